"""Pure functions shaping read-model records into response bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from query_service.bodies import (
        CountriesBody,
        CountryPageBody,
        DeadLetterBody,
        NamesBody,
        SnapshotBody,
        SyncBody,
        SyncStatusBody,
    )
    from query_service.records import (
        CountrySummary,
        CountryUsers,
        DeadLetter,
        SnapshotMeta,
        SyncRecord,
        SyncStatus,
        UserRow,
    )

EMPTY_COUNTRIES: Final[CountriesBody] = {"countries": [], "snapshot": None}
EMPTY_NAMES: Final[NamesBody] = {"countries": [], "snapshot": None}


def snapshot_body(meta: SnapshotMeta) -> SnapshotBody:
    """The `snapshot` member of every snapshot-backed response."""
    return {
        "id": meta.id,
        "synced_at": meta.synced_at,
        "user_count": meta.user_count,
        "country_count": meta.country_count,
    }


def countries_body(
    meta: SnapshotMeta, countries: Sequence[CountryUsers]
) -> CountriesBody:
    """Every country with all its users, in the order given."""
    return {
        "countries": [{"name": c.name, "users": c.users} for c in countries],
        "snapshot": snapshot_body(meta),
    }


def names_body(meta: SnapshotMeta, countries: Sequence[CountrySummary]) -> NamesBody:
    """Every country's name and counts, in the order given."""
    return {
        "countries": [
            {
                "name": c.name,
                "user_count": c.user_count,
                "genders": {"male": c.male, "female": c.female},
            }
            for c in countries
        ],
        "snapshot": snapshot_body(meta),
    }


def country_page_body(
    meta: SnapshotMeta, country: CountryUsers, *, page: int, size: int
) -> CountryPageBody:
    """One page of a country's users; a page past the end is empty."""
    start = (page - 1) * size
    return page_body(
        meta,
        country.name,
        len(country.users),
        country.users[start : start + size],
        page=page,
        size=size,
    )


def page_body(
    meta: SnapshotMeta,
    name: str,
    total: int,
    users: Sequence[UserRow],
    *,
    page: int,
    size: int,
) -> CountryPageBody:
    """One page of a country of `total` users, given the page's `users`."""
    return {
        "country": name,
        "page": page,
        "size": size,
        "total": total,
        "pages": -(-total // size),
        "users": tuple(users),
        "snapshot": snapshot_body(meta),
    }


def sync_body(record: SyncRecord) -> SyncBody:
    """One sync attempt, flattened for a dashboard."""
    completion = record.completion
    failure = record.failure
    started_at: datetime | None = None
    command_id: str | None = None
    if completion is not None:
        started_at, command_id = completion.started_at, completion.command_id
    if failure is not None:
        started_at = started_at or failure.started_at
        command_id = command_id or failure.command_id
    return {
        "sync_id": record.sync_id,
        "state": record.state,
        "first_seen_at": record.first_seen_at,
        "batches_staged": len(record.staged_batches),
        # Before sync.completed, the count its batches announced: with
        # `batches_staged`, the progress of a running sync.
        "batch_count": (
            completion.batch_count if completion else record.announced_batches
        ),
        "user_count": completion.user_count if completion else None,
        "dropped_count": completion.dropped_count if completion else None,
        "dropped_reasons": dict(completion.dropped_reasons) if completion else {},
        "command_id": command_id,
        "seed": completion.seed if completion else None,
        "started_at": started_at,
        "fetched_at": completion.fetched_at if completion else None,
        "promoted_at": record.promoted_at,
        "failed_at": failure.failed_at if failure else None,
        "failure_kind": failure.kind if failure else None,
        "reason": failure.reason if failure else None,
        "attempts": failure.attempts if failure else None,
        "superseded_at": record.superseded_at,
        "superseded_reason": record.superseded_reason,
    }


def dead_letter_body(letter: DeadLetter) -> DeadLetterBody:
    """The latest dead-lettered message."""
    return {
        "message_id": letter.message_id,
        "message_type": letter.message_type,
        "reason": letter.reason,
        "at": letter.at,
    }


def sync_status_body(status: SyncStatus) -> SyncStatusBody:
    """The current snapshot, recent attempts (newest first) and dead letters."""
    recent = [sync_body(record) for record in status.recent]
    return {
        "current_snapshot": snapshot_body(status.current) if status.current else None,
        "last_success": sync_body(status.last_success) if status.last_success else None,
        "last_attempt": recent[0] if recent else None,
        "last_failure": sync_body(status.last_failure) if status.last_failure else None,
        "recent": recent,
        "dead_lettered": status.dead_lettered,
        "last_dead_letter": dead_letter_body(status.last_dead_letter)
        if status.last_dead_letter
        else None,
    }
