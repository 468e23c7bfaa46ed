"""What every retry of ours shares, on top of tenacity: one log line per retry.

Each retry loop is a tenacity policy written where it is used (what to retry,
how long to wait, when to give up); this module gives them the same log line,
naming the attempt, the reason and the wait, and a sleep that a stop event
cuts short.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging
    from collections.abc import Awaitable, Callable

    from tenacity import RetryCallState


def log_retry(logger: logging.Logger, what: str) -> Callable[[RetryCallState], None]:
    """A tenacity `before_sleep` hook: one WARNING per retry.

    "RabbitMQ not reachable yet (attempt 2): [Errno 111] ...; retrying in 0.4s"
    """

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "%s (attempt %d): %s; retrying in %.1fs",
            what,
            state.attempt_number,
            failure,
            wait,
        )

    return before_sleep


def sleep_until(stop: asyncio.Event) -> Callable[[float], Awaitable[None]]:
    """A tenacity `sleep` that ends early once `stop` is set."""

    async def sleep(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    return sleep
