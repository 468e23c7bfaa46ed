"""The queue of injected faults the admin API fills and API requests consume."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

FaultMode = Literal[
    "http_500",
    "http_502_cloudflare",
    "http_503_cloudflare",
    "http_504_cloudflare",
    "http_520_cloudflare",
    "http_403_cloudflare_block",
    "rate_limit",
    "rate_limit_503",
    "error_json",
    "truncated",
    "empty_body",
    "empty_results",
    "placeholder",
    "hang",
    "slow",
    "hostile",
    "malformed_users",
    "not_found",
]

CLOUDFLARE_STATUS: Final[dict[FaultMode, int]] = {
    "http_502_cloudflare": 502,
    "http_503_cloudflare": 503,
    "http_504_cloudflare": 504,
    "http_520_cloudflare": 520,
}


class FaultRequest(BaseModel):
    """`POST /_sim/faults` body: answer the next `count` requests with `mode`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: FaultMode = Field(description="What the affected requests get.")
    count: int | None = Field(
        default=1,
        ge=1,
        description="How many requests it affects; null means every one until cleared.",
    )
    delay: float = Field(
        default=5.0, ge=0, le=3600, description="Seconds a `slow` answer waits."
    )


@dataclass(frozen=True, slots=True)
class Fault:
    """The fault one request was given."""

    mode: FaultMode
    delay: float


@dataclass(slots=True)
class _Pending:
    request: FaultRequest
    remaining: int | None


class FaultQueue:
    """Faults in the order they were posted; the head serves requests until spent.

    A fault with no count never runs out, so those queued behind it wait for a clear.
    """

    def __init__(self) -> None:
        self._pending: deque[_Pending] = deque()

    def add(self, request: FaultRequest) -> None:
        """Queue a fault behind those already pending."""
        self._pending.append(_Pending(request, request.count))

    def clear(self) -> None:
        """Drop every pending fault."""
        self._pending.clear()

    def take(self) -> Fault | None:
        """The fault for the next request, if any, counting it as used."""
        if not self._pending:
            return None
        head = self._pending[0]
        if head.remaining is not None:
            head.remaining -= 1
            if head.remaining == 0:
                self._pending.popleft()
        return Fault(head.request.mode, head.request.delay)

    def describe(self) -> list[dict[str, Any]]:
        """Pending faults as JSON objects, next first, with the requests they have left."""
        return [
            {
                "mode": item.request.mode,
                "count": item.remaining,
                "delay": item.request.delay,
            }
            for item in self._pending
        ]
