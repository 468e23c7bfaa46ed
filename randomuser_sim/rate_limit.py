"""Per-IP accounting of users requested, reset in fixed windows (section 6)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class RateLimiter:
    """Counts users requested per client IP; all counters reset every window.

    The window is fixed from creation, not sliding, as production's is.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._window_ends = clock() + window_seconds
        self._counts: dict[str, int] = {}

    def count(self, client: str) -> int:
        """Users this client requested in the current window."""
        self._roll()
        return self._counts.get(client, 0)

    def refusal(self, client: str) -> int | None:
        """The client's count when it is already at or over the limit, else None.

        The check comes before adding, so a client at 19,999 may still fetch 5,000.
        """
        if self._limit == 0:
            return None
        used = self.count(client)
        return used if used >= self._limit else None

    def add(self, client: str, users: int) -> None:
        """Record users served to this client."""
        self._roll()
        self._counts[client] = self._counts.get(client, 0) + users

    def reset(self) -> None:
        """Forget every counter now (the window keeps its schedule)."""
        self._counts.clear()

    def _roll(self) -> None:
        now = self._clock()
        if now >= self._window_ends:
            self._counts.clear()
            elapsed_windows = (now - self._window_ends) // self._window + 1
            self._window_ends += elapsed_windows * self._window
