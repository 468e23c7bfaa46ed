"""One upstream request's outcome: body limits, failure kinds and operator reasons."""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import aiohttp

    from contracts.events import FailureKind
    from sync_worker.upstream import UpstreamError

MAX_USER_BYTES: Final = 2_048
"""Allowance per requested user: a user with every field is about 1.1 kB, with
INCLUDED_FIELDS about 0.7 kB; a body far larger than the page can be is hostile."""

BODY_SLACK_BYTES: Final = 65_536
"""Room for the envelope, and for error pages, which ask for no users."""

PARSE_OFF_LOOP_BYTES: Final = 262_144
"""Bodies above this are parsed in a thread: orjson takes about 5 ms per MB,
and the loop must keep answering health checks and heartbeats meanwhile."""


def max_body_bytes(users: int) -> int:
    """The largest body accepted for a page of `users` users."""
    return BODY_SLACK_BYTES + users * MAX_USER_BYTES


SUMMARIES: Final[dict[str, str]] = {
    "rate_limited": "rate-limited by Randomuser",
    "not_found": "Randomuser URL not found",
    "blocked": "blocked by Randomuser's CDN",
    "http_error": "Randomuser answered with an HTTP error",
    "empty_body": "Randomuser sent an empty body",
    "html": "Randomuser sent an HTML page instead of JSON",
    "not_json": "Randomuser sent invalid JSON",
    "truncated": "Randomuser sent a truncated body",
    "error_object": "Randomuser reported an error",
    "bad_shape": "Randomuser sent an unexpected JSON shape",
    "placeholder": "Randomuser sent its outage placeholder instead of users",
    "empty_results": "Randomuser sent no users",
    "wrong_count": "Randomuser sent the wrong number of users",
    "timeout": "Randomuser did not answer in time",
    "connection": "could not reach Randomuser",
    "too_large": "Randomuser sent an oversized body",
}


class AttemptFailed(Exception):
    """One request did not give a usable page; `kind` names how."""

    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: FailureKind = kind
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after
        """Seconds the server asked us to wait (its Retry-After), if it said."""


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A Retry-After header (RFC 9110 §10.2.3: seconds, or an HTTP date) as
    seconds from now; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


async def read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, refused as soon as it is announced or read beyond `limit` bytes."""
    if (response.content_length or 0) > limit:
        raise AttemptFailed(
            "too_large",
            f"{response.content_length} bytes announced (limit {limit})",
            retryable=False,
        )
    body = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > limit:
            raise AttemptFailed(
                "too_large", f"over {limit} bytes for this page", retryable=False
            )
    return bytes(body)


def is_retryable(error: UpstreamError) -> bool:
    if error.kind in ("not_found", "blocked"):
        # A wrong URL or a CDN block of this address does not heal in seconds.
        return False
    if error.status is not None and 400 <= error.status < 500:
        # The request itself is refused; asking again changes nothing.
        return error.kind == "rate_limited" or error.status in (408, 425)
    return True


def failure_reason(
    failure: AttemptFailed, history: list[str], number: int, pages: int
) -> str:
    summary = SUMMARIES.get(failure.kind, failure.kind)
    tries = len(history)
    where = f"page {number} of {pages}" if pages > 1 else "the request"
    text = (
        f"{summary}: gave up on {where} after {tries} attempt"
        f"{'s' if tries != 1 else ''} ({', '.join(history)}); last: {failure.detail}"
    )
    return text[:2000]
