"""Snapshot history over HTTP, on the in-memory read model: the list, an old
snapshot as it was served, diffs, and 404 / 410 / 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from contracts.events import SyncCompleted, UsersFetched
from contracts.users import User
from query_service.app import create_app
from query_service.projection import ProjectionConfig, projection_handler
from query_service.settings import QuerySettings
from tests.support.memory_read_model import InMemoryReadModel

if TYPE_CHECKING:
    from query_service.ports import ReadModel

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def user(
    name: str,
    email: str,
    country: str = "Norway",
    gender: str = "male",
    uuid: str | None = None,
) -> User:
    return User.model_validate(
        {
            "name": name,
            "gender": gender,
            "email": email,
            "country": country,
            "uuid": uuid,
        }
    )


U1 = "0b6c9f4e-2f52-4c5e-9d55-3d1c2c1f7a01"
U2 = "5a1d3c7b-8e2f-4b6a-a1c9-7f3e2d1b0c02"


async def project(
    model: ReadModel,
    sync_id: str,
    users: list[User],
    minute: int,
    kept: int = 48,
) -> None:
    handle = projection_handler(
        model, ProjectionConfig(snapshots_kept=kept, clock=lambda: T0)
    )
    await handle(
        UsersFetched(sync_id=sync_id, batch_index=0, batch_count=1, users=tuple(users))
    )
    await handle(
        SyncCompleted(
            sync_id=sync_id,
            batch_count=1,
            user_count=len(users),
            fetched_at=T0 + timedelta(minutes=minute),
        )
    )


def settings() -> QuerySettings:
    return QuerySettings.model_validate(
        {"_env_file": None, "snapshot_poll_seconds": 0, "live_notices": False}
    )


BEFORE = [
    user("Ann Berg", "ann@x.no"),
    user("Bo Dahl", "bo@x.no"),
    user("Cy Eng", "cy@x.no"),
    user("Jean Roy", "jean@x.fr", "France"),
]
AFTER = [
    user("Ann Berg", "ann@x.no"),  # the same
    user("Bo Dahl-Lie", "bo@x.no"),  # renamed
    user("Di Foss", "di@x.no", gender="female"),  # new
    user("Jean Roy", "jean@x.fr", "France"),  # the same
    user("Eva Gran", "eva@x.de", "Germany", "female"),  # a new country
]  # Cy Eng is gone


@pytest.fixture
async def client(aiohttp_client):
    model = InMemoryReadModel()
    client = await aiohttp_client(create_app(settings(), read_model=model))
    client.model = model
    return client


async def test_the_list_is_newest_first_in_pages_and_names_the_current(client) -> None:
    for minute, sync_id in enumerate(("s1", "s2", "s3")):
        await project(client.model, sync_id, BEFORE, minute)

    first = await client.get("/queries/snapshots", params={"size": "2"})
    second = await client.get("/queries/snapshots", params={"size": "2", "page": "2"})

    assert first.status == 200
    assert first.headers["Cache-Control"] == "no-store"
    body = await first.json()
    assert [(s["id"], s["current"]) for s in body["snapshots"]] == [
        ("s3", True),
        ("s2", False),
    ]
    assert body["snapshots"][0]["user_count"] == 4
    assert body["snapshots"][0]["country_count"] == 2
    assert body["snapshots"][0]["synced_at"].startswith("2026-01-01T12:02:00")
    assert (body["page"], body["size"], body["total"], body["pages"]) == (1, 2, 3, 2)
    assert [s["id"] for s in (await second.json())["snapshots"]] == ["s1"]


async def test_before_any_snapshot_the_list_is_empty(client) -> None:
    response = await client.get("/queries/snapshots")

    assert await response.json() == {
        "snapshots": [],
        "page": 1,
        "size": 20,
        "total": 0,
        "pages": 0,
    }


async def test_an_old_snapshot_is_served_as_it_was_when_current(client) -> None:
    await project(client.model, "s1", BEFORE, 0)
    served_then = await client.get(
        "/queries/countries", headers={"Accept-Encoding": "identity"}
    )
    then = await served_then.read()
    await project(client.model, "s2", AFTER, 1)

    response = await client.get(
        "/queries/snapshots/s1/countries", headers={"Accept-Encoding": "identity"}
    )

    assert response.status == 200
    assert await response.read() == then
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["ETag"] == 'W/"s1"'
    again = await client.get(
        "/queries/snapshots/s1/countries", headers={"If-None-Match": 'W/"s1"'}
    )
    assert again.status == 304
    gzipped = await client.get(
        "/queries/snapshots/s1/countries", headers={"Accept-Encoding": "gzip"}
    )
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert await gzipped.read() == then  # the client decompresses


async def test_a_diff_lists_added_removed_and_changed_users_per_country(client) -> None:
    await project(client.model, "s1", BEFORE, 0)
    await project(client.model, "s2", AFTER, 1)

    response = await client.get("/queries/snapshots/s2/diff", params={"from": "s1"})

    assert response.status == 200
    body = await response.json()
    assert (body["from"]["id"], body["to"]["id"]) == ("s1", "s2")
    assert body["counts"] == {"added": 2, "removed": 1, "changed": 1}
    assert body["countries"] == [
        {
            "name": "Germany",
            "counts": {"added": 1, "removed": 0, "changed": 0},
            "added": [{"name": "Eva Gran", "gender": "female", "email": "eva@x.de"}],
            "removed": [],
            "changed": [],
        },
        {
            "name": "Norway",
            "counts": {"added": 1, "removed": 1, "changed": 1},
            "added": [{"name": "Di Foss", "gender": "female", "email": "di@x.no"}],
            "removed": [{"name": "Cy Eng", "gender": "male", "email": "cy@x.no"}],
            "changed": [
                {
                    "before": {"name": "Bo Dahl", "gender": "male", "email": "bo@x.no"},
                    "after": {
                        "name": "Bo Dahl-Lie",
                        "gender": "male",
                        "email": "bo@x.no",
                    },
                }
            ],
        },
    ]
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


async def test_a_diff_backwards_swaps_added_and_removed(client) -> None:
    await project(client.model, "s1", BEFORE, 0)
    await project(client.model, "s2", AFTER, 1)

    response = await client.get("/queries/snapshots/s1/diff", params={"from": "s2"})

    body = await response.json()
    assert body["counts"] == {"added": 1, "removed": 2, "changed": 1}
    norway = next(c for c in body["countries"] if c["name"] == "Norway")
    assert [u["email"] for u in norway["removed"]] == ["di@x.no"]
    assert norway["changed"][0]["after"]["name"] == "Bo Dahl"


async def test_a_diff_of_a_snapshot_with_itself_is_empty(client) -> None:
    await project(client.model, "s1", BEFORE, 0)

    response = await client.get("/queries/snapshots/s1/diff", params={"from": "s1"})

    body = await response.json()
    assert body["counts"] == {"added": 0, "removed": 0, "changed": 0}
    assert body["countries"] == []


async def test_a_diff_can_be_of_one_country(client) -> None:
    await project(client.model, "s1", BEFORE, 0)
    await project(client.model, "s2", AFTER, 1)

    response = await client.get(
        "/queries/snapshots/s2/diff", params={"from": "s1", "country": "Germany"}
    )
    unknown = await client.get(
        "/queries/snapshots/s2/diff", params={"from": "s1", "country": "Atlantis"}
    )

    body = await response.json()
    assert [c["name"] for c in body["countries"]] == ["Germany"]
    assert body["counts"] == {"added": 1, "removed": 0, "changed": 0}
    assert unknown.status == 404
    assert "Atlantis" in (await unknown.json())["detail"]


async def test_users_sharing_an_e_mail_are_paired_in_name_order(client) -> None:
    await project(
        client.model, "s1", [user("A One", "same@x"), user("B Two", "same@x")], 0
    )
    await project(
        client.model,
        "s2",
        [user("A One", "same@x"), user("B Two", "same@x"), user("C Three", "same@x")],
        1,
    )

    body = await (
        await client.get("/queries/snapshots/s2/diff", params={"from": "s1"})
    ).json()

    assert body["counts"] == {"added": 1, "removed": 0, "changed": 0}
    assert body["countries"][0]["added"][0]["name"] == "C Three"


async def _diff(client, before: list[User], after: list[User]) -> Any:
    await project(client.model, "s1", before, 0)
    await project(client.model, "s2", after, 1)
    response = await client.get("/queries/snapshots/s2/diff", params={"from": "s1"})
    assert response.status == 200
    return await response.json()


async def test_a_user_with_the_same_uuid_and_a_new_e_mail_is_changed(client) -> None:
    body = await _diff(
        client,
        [user("Ann Berg", "ann@old.no", uuid=U1), user("Bo Dahl", "bo@x.no", uuid=U2)],
        [user("Ann Berg", "ann@new.no", uuid=U1), user("Bo Dahl", "bo@x.no", uuid=U2)],
    )

    assert body["counts"] == {"added": 0, "removed": 0, "changed": 1}
    [change] = body["countries"][0]["changed"]
    assert (change["before"]["email"], change["after"]["email"]) == (
        "ann@old.no",
        "ann@new.no",
    )


async def test_two_people_sharing_an_e_mail_are_one_removed_one_added(client) -> None:
    body = await _diff(
        client,
        [user("Ann Berg", "shared@x.no", uuid=U1)],
        [user("Ann Berg", "shared@x.no", uuid=U2)],
    )

    assert body["counts"] == {"added": 1, "removed": 1, "changed": 0}


async def test_against_a_snapshot_without_uuids_users_match_by_e_mail(client) -> None:
    body = await _diff(
        client,
        [user("Ann Berg", "ann@x.no"), user("Bo Dahl", "bo@x.no")],
        [
            user("Ann Berg-Lie", "ann@x.no", uuid=U1),
            user("Bo Dahl", "bo@y.no", uuid=U2),
        ],
    )

    assert body["counts"] == {"added": 1, "removed": 1, "changed": 1}
    norway = body["countries"][0]
    assert norway["changed"][0]["after"]["name"] == "Ann Berg-Lie"
    assert [u["email"] for u in norway["added"]] == ["bo@y.no"]


async def test_a_user_without_a_uuid_is_matched_by_e_mail_among_uuids(client) -> None:
    body = await _diff(
        client,
        [user("Ann Berg", "ann@x.no", uuid=U1), user("Cy Eng", "cy@x.no")],
        [user("Ann Berg", "ann@x.no", uuid=U1), user("Cy Engen", "cy@x.no")],
    )

    assert body["counts"] == {"added": 0, "removed": 0, "changed": 1}


async def test_unknown_snapshots_are_404_and_deleted_ones_410(client) -> None:
    for minute, sync_id in enumerate(("s1", "s2", "s3")):
        await project(client.model, sync_id, BEFORE, minute, kept=2)

    unknown = await client.get("/queries/snapshots/nope/countries")
    deleted = await client.get("/queries/snapshots/s1/countries")
    deleted_base = await client.get("/queries/snapshots/s3/diff", params={"from": "s1"})
    kept = await client.get("/queries/snapshots/s2/countries")

    assert unknown.status == 404
    assert unknown.headers["Content-Type"] == "application/problem+json"
    assert "nope" in (await unknown.json())["detail"]
    assert deleted.status == 410
    assert deleted.headers["Content-Type"] == "application/problem+json"
    assert "no longer kept" in (await deleted.json())["detail"]
    assert deleted_base.status == 410
    assert kept.status == 200


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/queries/snapshots", {"page": "0"}, "page"),
        ("/queries/snapshots", {"size": "101"}, "size"),
        ("/queries/snapshots", {"page": "x"}, "page"),
        ("/queries/snapshots/s1/diff", {}, "from"),
        ("/queries/snapshots/s1/diff", {"from": ""}, "from"),
        ("/queries/snapshots/s1/diff", {"from": "s1", "country": "x" * 129}, "country"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    client, path, params, parameter
) -> None:
    await project(client.model, "s1", BEFORE, 0)

    response = await client.get(path, params=params)

    assert response.status == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert f"'{parameter}'" in (await response.json())["detail"]


async def test_a_diff_revalidates_with_its_own_tag_only(client) -> None:
    await project(client.model, "s1", BEFORE, 0)
    await project(client.model, "s2", AFTER, 1)
    path = "/queries/snapshots/s2/diff"

    first = await client.get(path, params={"from": "s1"})
    again = await client.get(
        path, params={"from": "s1"}, headers={"If-None-Match": first.headers["ETag"]}
    )
    other = await client.get(
        path, params={"from": "s1"}, headers={"If-None-Match": 'W/"s2"'}
    )

    assert first.headers["ETag"] == 'W/"s1..s2"'
    assert again.status == 304
    assert other.status == 200
