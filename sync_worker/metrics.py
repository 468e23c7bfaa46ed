"""Prometheus metrics of the sync worker: sync outcomes and durations, users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from collections.abc import Mapping

SyncOutcome = Literal["completed", "failed", "error"]

SYNCS: Final = Counter(
    "randomuser_syncs",
    "Sync attempts by outcome: completed, failed (sync.failed published), "
    "error (could not publish; the command is redelivered).",
    ["outcome"],
)
SYNC_DURATION: Final = Histogram(
    "randomuser_sync_duration_seconds",
    "Duration of a sync attempt, from the command to its last published event.",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
USERS_FETCHED: Final = Counter(
    "randomuser_users_fetched",
    "Users received from Randomuser, before validation.",
)
USERS_DROPPED: Final = Counter(
    "randomuser_users_dropped",
    "Users refused by validation, by reason (e.g. missing_email, invalid_gender).",
    ["reason"],
)


def record_sync(outcome: SyncOutcome, seconds: float) -> None:
    """Count one sync attempt and its duration."""
    SYNCS.labels(outcome).inc()
    SYNC_DURATION.labels(outcome).observe(seconds)


def record_users(fetched: int, dropped: Mapping[str, int]) -> None:
    """Count the users of one fetch, and the ones validation dropped."""
    USERS_FETCHED.inc(fetched)
    for reason, count in dropped.items():
        USERS_DROPPED.labels(reason).inc(count)
