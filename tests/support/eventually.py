"""Wait for a condition with a deadline, instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Call `check` until it returns without raising AssertionError and the
    result is truthy; return that result. Fail with the last error after `timeout`.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = await check()
        except AssertionError as exc:
            last = exc
        else:
            if result:
                return result
            last = None
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout}s: {last!r}")
        await asyncio.sleep(interval)


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Synchronous twin of `eventually`, for fixtures that start processes."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = check()
        except (AssertionError, OSError) as exc:
            last = exc
        else:
            if result:
                return result
            last = None
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout}s: {last!r}")
        time.sleep(interval)
