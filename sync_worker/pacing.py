"""Pacing of upstream requests: backoff between retries, and a budget of users."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

_RANDOM: Final = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter."""

    max_attempts: int = 4
    backoff: float = 1.0
    rate_limit_backoff: float = 30.0
    max_delay: float = 300.0

    def delay(self, attempt: int, *, rate_limited: bool) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = self.rate_limit_backoff if rate_limited else self.backoff
        # "Equal jitter": between half and one and a half times the step, so
        # workers that failed together do not retry together.
        step = base * 2.0 ** (attempt - 1) * _RANDOM.uniform(0.5, 1.5)
        return min(step, self.max_delay)


class UpstreamBudget:
    """Keeps the users requested within a sliding window below the upstream limit.

    Upstream refuses a client that asked for 20,000 users in its 5-minute
    window; waiting here is cheaper than being refused there.
    """

    def __init__(
        self,
        users_per_window: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.users_per_window = users_per_window
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[tuple[float, int]] = deque()
        self._lock = asyncio.Lock()

    def used(self) -> int:
        """Users requested within the current window."""
        self._expire(self._clock())
        return sum(users for _, users in self._sent)

    async def reserve(self, users: int) -> float:
        """Wait until `users` more fit in the window, record them, return the wait.

        Raises:
            ValueError: `users` alone exceeds the budget.
        """
        if users > self.users_per_window:
            msg = f"{users} users exceed the budget of {self.users_per_window}"
            raise ValueError(msg)
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                used = sum(count for _, count in self._sent)
                if used + users <= self.users_per_window:
                    self._sent.append((now, users))
                    return waited
                pause = self._sent[0][0] + self._window - now
                logger.warning(
                    "upstream budget used (%d of %d users); waiting %.1fs",
                    used,
                    self.users_per_window,
                    pause,
                )
                await self._sleep(pause)
                waited += pause

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0][0] + self._window <= now:
            self._sent.popleft()
