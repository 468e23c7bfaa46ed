"""Steps that bring messages of older schema versions to today's.

Each step takes the JSON object of one version and returns the next one's;
`contracts/codec.decode` chains them. A step describes how producers of its
version wrote messages, so it never changes once released: the texts below
are those of the version 1 sync worker, whatever the worker writes today.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from contracts.events import FailureKind

V1_REASON_PREFIXES: Final[tuple[tuple[str, FailureKind], ...]] = (
    ("rate-limited by Randomuser", "rate_limited"),
    ("Randomuser URL not found", "not_found"),
    ("blocked by Randomuser's CDN", "blocked"),
    ("Randomuser answered with an HTTP error", "http_error"),
    ("Randomuser sent an empty body", "empty_body"),
    ("Randomuser sent an HTML page instead of JSON", "html"),
    ("Randomuser sent invalid JSON", "not_json"),
    ("Randomuser sent a truncated body", "truncated"),
    ("Randomuser reported an error", "error_object"),
    ("Randomuser sent an unexpected JSON shape", "bad_shape"),
    ("Randomuser sent its outage placeholder instead of users", "placeholder"),
    ("Randomuser sent no users", "empty_results"),
    ("Randomuser sent the wrong number of users", "wrong_count"),
    ("Randomuser did not answer in time", "timeout"),
    ("could not reach Randomuser", "connection"),
    ("Randomuser sent an oversized body", "too_large"),
    ("the command asks for ", "too_many_results"),
    ("the sync overran its deadline", "deadline"),
    ("validation kept none of the ", "no_valid_users"),
)
"""How a version 1 `sync.failed` reason began, for each kind of failure
(sync_worker/attempts.py SUMMARIES and sync_worker/sync.py as of version 1)."""


def failure_kind_of_v1_reason(reason: object) -> FailureKind:
    """The kind of failure a version 1 reason describes; "unknown" for any
    other text (a reason written by hand, or by a worker older still)."""
    if isinstance(reason, str):
        for prefix, kind in V1_REASON_PREFIXES:
            if reason.startswith(prefix):
                return kind
    return "unknown"


def sync_failed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added `kind`: read it off the version 1 reason."""
    return {**data, "kind": failure_kind_of_v1_reason(data.get("reason"))}
