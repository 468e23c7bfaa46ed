"""MongoDB document shapes of the read model, and their conversion to records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from query_service.records import (
    Completion,
    CountrySummary,
    DeadLetter,
    Failure,
    SnapshotMeta,
    SyncRecord,
    SyncState,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from query_service.records import Snapshot, UserRow


class StagedDoc(TypedDict):
    """`staged_users`: a chunk of one country of one batch.

    `_id` is "<sync>/<batch>/<country>/<part>"; at most CHUNK_USERS users.
    """

    sync_id: str
    batch_index: int
    country: str
    part: int
    users: list[UserRow]
    uuids: bytes
    """16 bytes per user (records.uuid_bytes); b"" when not known."""


class CountryChunkDoc(TypedDict):
    """`snapshot_countries`: users `chunk * CHUNK_USERS` onwards of one country.

    `_id` is "<snapshot>/<country>/<chunk>"; at most CHUNK_USERS users.
    """

    snapshot_id: str
    country: str
    chunk: int
    users: list[UserRow]
    uuids: bytes
    """16 bytes per user (records.uuid_bytes); b"" when not known."""


class MetaDoc(TypedDict):
    """A snapshot's identity, nested in its `snapshots` document."""

    id: str
    synced_at: datetime
    user_count: int
    country_count: int


class SummaryDoc(TypedDict):
    """One country's counts, nested in its `snapshots` document."""

    name: str
    user_count: int
    male: int
    female: int


class BodySizesDoc(TypedDict):
    """The lengths of a snapshot's /queries/countries bodies, in bytes."""

    json: int
    gzip: int


class SnapshotDoc(TypedDict):
    """`snapshots`: a promoted sync's summary; `_id` is the sync id.

    Its `/queries/countries` bodies are in GridFS (`snapshot_store`), its
    users in `snapshot_countries` chunks.
    """

    order_key: str
    meta: MetaDoc
    countries: list[SummaryDoc]
    names_json: bytes
    body_sizes: BodySizesDoc


class ReasonCountDoc(TypedDict):
    """One drop reason and how many users it refused."""

    reason: str
    count: int


class CompletionDoc(TypedDict):
    """The facts of sync.completed, nested in a `syncs` document."""

    batch_count: int
    user_count: int
    dropped_count: int
    dropped_reasons: list[ReasonCountDoc]
    fetched_at: datetime
    started_at: datetime | None
    command_id: str | None
    seed: str | None


class FailureDoc(TypedDict):
    """The facts of sync.failed, nested in a `syncs` document."""

    reason: str
    attempts: int
    failed_at: datetime
    started_at: datetime | None
    command_id: str | None
    kind: str


class DeadLetterDoc(TypedDict):
    """The latest dead letter, nested in `projector_status` "dead_letters"."""

    message_id: str | None
    message_type: str | None
    reason: str
    at: datetime


def meta_doc(meta: SnapshotMeta) -> MetaDoc:
    """The nested document of a snapshot's identity."""
    return {
        "id": meta.id,
        "synced_at": meta.synced_at,
        "user_count": meta.user_count,
        "country_count": meta.country_count,
    }


def meta_from(doc: Mapping[str, Any]) -> SnapshotMeta:
    """A snapshot's identity from its nested document."""
    return SnapshotMeta(
        id=doc["id"],
        synced_at=doc["synced_at"],
        user_count=doc["user_count"],
        country_count=doc["country_count"],
    )


def snapshot_doc(snapshot: Snapshot) -> SnapshotDoc:
    """The `snapshots` document of a snapshot (without `_id`)."""
    return {
        "order_key": snapshot.order_key,
        "meta": meta_doc(snapshot.meta),
        "countries": [
            {
                "name": c.name,
                "user_count": c.user_count,
                "male": c.male,
                "female": c.female,
            }
            for c in snapshot.countries
        ],
        "names_json": snapshot.names_json,
        "body_sizes": {
            "json": len(snapshot.countries_json),
            "gzip": len(snapshot.countries_gzip),
        },
    }


def summaries_from(docs: list[Mapping[str, Any]]) -> tuple[CountrySummary, ...]:
    """Country summaries from a `snapshots` document's `countries`."""
    return tuple(
        CountrySummary(
            name=d["name"],
            user_count=d["user_count"],
            male=d["male"],
            female=d["female"],
        )
        for d in docs
    )


def completion_doc(completion: Completion) -> CompletionDoc:
    """The nested document of sync.completed's facts."""
    return {
        "batch_count": completion.batch_count,
        "user_count": completion.user_count,
        "dropped_count": completion.dropped_count,
        # A list of pairs, not a mapping: reasons are free text, and MongoDB
        # field names may not hold "." or start with "$".
        "dropped_reasons": [
            {"reason": reason, "count": count}
            for reason, count in completion.dropped_reasons
        ],
        "fetched_at": completion.fetched_at,
        "started_at": completion.started_at,
        "command_id": completion.command_id,
        "seed": completion.seed,
    }


def failure_doc(failure: Failure) -> FailureDoc:
    """The nested document of sync.failed's facts."""
    return {
        "reason": failure.reason,
        "attempts": failure.attempts,
        "failed_at": failure.failed_at,
        "started_at": failure.started_at,
        "command_id": failure.command_id,
        "kind": failure.kind,
    }


def dead_letter_doc(letter: DeadLetter) -> DeadLetterDoc:
    """The nested document of the latest dead letter."""
    return {
        "message_id": letter.message_id,
        "message_type": letter.message_type,
        "reason": letter.reason,
        "at": letter.at,
    }


def dead_letter_from(doc: Mapping[str, Any]) -> DeadLetter:
    """The latest dead letter from its nested document."""
    return DeadLetter(
        message_id=doc.get("message_id"),
        message_type=doc.get("message_type"),
        reason=doc["reason"],
        at=doc["at"],
    )


def sync_record_from(doc: Mapping[str, Any]) -> SyncRecord:
    """A sync record from its `syncs` document."""
    completed = doc.get("completed")
    failure = doc.get("failure")
    promoted = doc.get("promoted")
    superseded = doc.get("superseded")
    state: SyncState = doc["state"]
    return SyncRecord(
        sync_id=doc["_id"],
        state=state,
        first_seen_at=doc["first_seen_at"],
        staged_batches=frozenset(doc.get("staged_batches", ())),
        announced_batches=(doc.get("announced") or {}).get("batch_count"),
        completion=None if completed is None else _completion_from(completed),
        failure=None if failure is None else _failure_from(failure),
        promoted_at=None if promoted is None else promoted["at"],
        superseded_at=None if superseded is None else superseded["at"],
        superseded_reason=None if superseded is None else superseded["reason"],
    )


def _completion_from(doc: Mapping[str, Any]) -> Completion:
    return Completion(
        batch_count=doc["batch_count"],
        user_count=doc["user_count"],
        dropped_count=doc["dropped_count"],
        dropped_reasons=tuple(
            (item["reason"], item["count"]) for item in doc["dropped_reasons"]
        ),
        fetched_at=doc["fetched_at"],
        started_at=doc.get("started_at"),
        command_id=doc.get("command_id"),
        seed=doc.get("seed"),
    )


def _failure_from(doc: Mapping[str, Any]) -> Failure:
    return Failure(
        reason=doc["reason"],
        attempts=doc["attempts"],
        failed_at=doc["failed_at"],
        started_at=doc.get("started_at"),
        command_id=doc.get("command_id"),
        # Records written before sync.failed v2 have no kind.
        kind=doc.get("kind", "unknown"),
    )
