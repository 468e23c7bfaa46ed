"""What a sync asks of the upstream and what comes back, whoever fetches it:
the request, its pages, the failure, and the client protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from datetime import datetime

    from contracts.events import FailureKind

MAX_USERS_PER_REQUEST: Final = 5_000
"""Upstream turns any larger `results` into 1 (not 5,000)."""


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What one sync asks of upstream."""

    results: int
    seed: str
    nationalities: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """Every raw user of a sync, in upstream order, fetched page by page."""

    users: list[Any]
    seed: str
    attempts: int
    pages: int
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """One upstream page of raw users, as it arrived."""

    number: int
    """1-based page number, in the order `page_sizes` planned."""
    users: list[Any]
    attempts: int
    """Requests this page took."""


class FetchFailed(Exception):
    """Upstream could not deliver every page; `reason` says why, for operators."""

    def __init__(self, kind: FailureKind, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.reason = reason
        self.attempts = attempts


class RandomuserClient(Protocol):
    """Anything that can fetch the raw users of a sync, page by page."""

    def page_sizes(self, results: int) -> list[int]:
        """The users each page of a sync of `results` users will ask for."""

    def pages(self, request: FetchRequest) -> AsyncGenerator[FetchedPage, None]:
        """Yield every page of `request` in page order, as soon as it is in.

        Close the iterator (`contextlib.aclosing`) to cancel pages in flight.

        Raises:
            FetchFailed: a page could not be fetched within the allowed attempts.
        """


def page_sizes(results: int, per_request: int = MAX_USERS_PER_REQUEST) -> list[int]:
    """Split `results` into requests of at most `per_request` users, in page order."""
    full, rest = divmod(results, per_request)
    return [per_request] * full + ([rest] if rest else [])
