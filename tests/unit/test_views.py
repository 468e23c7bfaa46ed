"""Response shaping without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from query_service import views
from query_service.records import (
    Completion,
    CountrySummary,
    CountryUsers,
    DeadLetter,
    Failure,
    SnapshotMeta,
    SyncRecord,
    SyncStatus,
    UserRow,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
META = SnapshotMeta(id="s1", synced_at=T0, user_count=7, country_count=1)
ROWS: tuple[UserRow, ...] = tuple(
    {"name": f"User {i}", "gender": "male", "email": f"u{i}@x"} for i in range(7)
)
NORWAY = CountryUsers(name="Norway", users=ROWS)


def test_the_countries_body_has_exactly_the_required_shape():
    body = views.countries_body(META, [NORWAY])

    assert set(body) == {"countries", "snapshot"}
    assert body["countries"] == [{"name": "Norway", "users": ROWS}]
    assert body["snapshot"] == {
        "id": "s1",
        "synced_at": T0,
        "user_count": 7,
        "country_count": 1,
    }


def test_the_names_body_nests_gender_counts():
    summary = CountrySummary(name="Norway", user_count=7, male=4, female=3)

    body = views.names_body(META, [summary])

    assert body["countries"] == [
        {"name": "Norway", "user_count": 7, "genders": {"male": 4, "female": 3}}
    ]


@pytest.mark.parametrize(
    ("page", "size", "names", "pages"),
    [
        (1, 3, ["User 0", "User 1", "User 2"], 3),
        (3, 3, ["User 6"], 3),
        (4, 3, [], 3),
        (1, 500, [f"User {i}" for i in range(7)], 1),
    ],
)
def test_a_country_page_slices_users_and_counts_pages(page, size, names, pages):
    body = views.country_page_body(META, NORWAY, page=page, size=size)

    assert [u["name"] for u in body["users"]] == names
    assert body["total"] == 7
    assert body["pages"] == pages
    assert (body["country"], body["page"], body["size"]) == ("Norway", page, size)


def test_an_empty_country_has_no_pages():
    body = views.country_page_body(META, CountryUsers("Empty", ()), page=1, size=50)

    assert (body["total"], body["pages"], body["users"]) == (0, 0, ())


def test_a_failed_sync_is_flattened_with_its_reason():
    record = SyncRecord(
        sync_id="s2",
        state="failed",
        first_seen_at=T0,
        staged_batches=frozenset({0, 1}),
        failure=Failure(
            reason="timeout", attempts=3, failed_at=T0, started_at=T0, command_id="c"
        ),
    )

    body = views.sync_body(record)

    assert body["state"] == "failed"
    assert (body["reason"], body["attempts"], body["failed_at"]) == ("timeout", 3, T0)
    assert (body["started_at"], body["command_id"]) == (T0, "c")
    assert body["batches_staged"] == 2
    assert body["batch_count"] is None


def test_a_completed_sync_shows_its_counts_and_drop_reasons():
    record = SyncRecord(
        sync_id="s1",
        state="promoted",
        first_seen_at=T0,
        completion=Completion(
            batch_count=2,
            user_count=10,
            dropped_count=2,
            dropped_reasons=(("missing email", 2),),
            fetched_at=T0,
        ),
        promoted_at=T0,
    )

    body = views.sync_body(record)

    assert body["dropped_reasons"] == {"missing email": 2}
    assert (body["batch_count"], body["user_count"]) == (2, 10)
    assert body["promoted_at"] == T0
    assert body["reason"] is None


def test_sync_status_names_the_newest_attempt_last_attempt():
    newest = SyncRecord(sync_id="s3", state="staging", first_seen_at=T0)
    older = SyncRecord(sync_id="s2", state="failed", first_seen_at=T0)
    status = SyncStatus(
        current=META,
        recent=(newest, older),
        last_success=None,
        last_failure=older,
        dead_lettered=2,
        last_dead_letter=DeadLetter("m1", "users.fetched", "not JSON", T0),
    )

    body = views.sync_status_body(status)

    assert body["last_attempt"] is not None
    assert body["last_attempt"]["sync_id"] == "s3"
    assert [r["sync_id"] for r in body["recent"]] == ["s3", "s2"]
    assert body["last_failure"] is not None
    assert body["last_failure"]["sync_id"] == "s2"
    assert body["current_snapshot"] is not None
    assert body["current_snapshot"]["id"] == "s1"
    assert body["dead_lettered"] == 2
    assert body["last_dead_letter"] is not None
    assert body["last_dead_letter"]["reason"] == "not JSON"


def test_an_empty_sync_status_has_nulls_not_missing_keys():
    status = SyncStatus(None, (), None, None, 0, None)

    body = views.sync_status_body(status)

    assert body == {
        "current_snapshot": None,
        "last_success": None,
        "last_attempt": None,
        "last_failure": None,
        "recent": [],
        "dead_lettered": 0,
        "last_dead_letter": None,
    }
