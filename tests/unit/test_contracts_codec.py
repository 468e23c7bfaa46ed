"""The wire format of messages: exact JSON out, validated messages or a reason back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from contracts import codec
from contracts.base import new_id, utc_now
from contracts.codec import DecodeError, decode, encode
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.topology import Topology
from contracts.users import User

AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

FAILED_WIRE = (
    b'{"message_id":"m-1","occurred_at":"2026-01-02T03:04:05.678000Z",'
    b'"correlation_id":"c-1","causation_id":"cmd-1",'
    b'"message_type":"sync.failed","schema_version":2,"sync_id":"s-1",'
    b'"command_id":null,"kind":"http_error","reason":"upstream answered 503",'
    b'"attempts":3,'
    b'"started_at":null,"failed_at":"2026-01-02T03:04:05.678000Z"}'
)


def failed(**overrides: Any) -> SyncFailed:
    fields: dict[str, Any] = {
        "message_id": "m-1",
        "occurred_at": AT,
        "correlation_id": "c-1",
        "causation_id": "cmd-1",
        "sync_id": "s-1",
        "kind": "http_error",
        "reason": "upstream answered 503",
        "attempts": 3,
        "failed_at": AT,
    }
    fields.update(overrides)
    return SyncFailed(**fields)


def failed_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(FAILED_WIRE)
    data.update(overrides)
    return data


def reason_for(body: bytes) -> str:
    with pytest.raises(DecodeError) as caught:
        decode(body)
    return str(caught.value)


# encode


def test_encode_writes_compact_json_with_utc_times_in_z_form():
    assert encode(failed()) == FAILED_WIRE


def test_encode_writes_users_and_tuples_as_json_arrays_of_objects():
    message = UsersFetched(
        message_id="m-2",
        occurred_at=AT,
        correlation_id="c-2",
        sync_id="s-2",
        batch_index=0,
        batch_count=1,
        users=(User(name="Ada L", gender="female", email="a@b.io", country="UK"),),
    )

    data = orjson.loads(encode(message))

    assert data["users"] == [
        {
            "name": "Ada L",
            "gender": "female",
            "email": "a@b.io",
            "country": "UK",
            "title": None,
            "nat": None,
            "uuid": None,
        }
    ]
    assert data["occurred_at"] == "2026-01-02T03:04:05.678000Z"


def test_encode_converts_other_offsets_as_they_are():
    plus_two = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))

    data = orjson.loads(encode(failed(occurred_at=plus_two)))

    assert data["occurred_at"] == "2026-01-02T05:04:05+02:00"


@pytest.mark.parametrize(
    "message",
    [
        SyncRequested(results=7, nationalities=("FR", "GB"), seed="abc", trigger="cli"),
        UsersFetched(
            sync_id="s",
            batch_index=1,
            batch_count=2,
            users=(User(name="Bo", gender="male", email="b@c.de", country="Germany"),),
        ),
        SyncCompleted(
            sync_id="s",
            batch_count=2,
            user_count=3,
            dropped_count=1,
            dropped_reasons={"missing_email": 1},
            seed="abc",
            started_at=AT,
        ),
        failed(),
    ],
    ids=lambda message: message.message_type,
)
def test_every_message_type_decodes_back_to_an_equal_message(message):
    assert decode(encode(message)) == message


# decode: what is refused, and the reason the dead-letter record keeps


def test_a_body_that_is_not_json_is_refused_naming_the_problem():
    assert reason_for(b"{not json").startswith("body is not JSON: ")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"sync.failed"', b"null"])
def test_a_json_value_that_is_not_an_object_is_refused(body):
    assert reason_for(body) == "body is not a JSON object"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"schema_version": 1}, "unknown message_type None"),
        (
            {"message_type": "sync.exploded", "schema_version": 1},
            "unknown message_type 'sync.exploded'",
        ),
        (
            {"MESSAGE_TYPE": "sync.failed", "schema_version": 1},
            "unknown message_type None",
        ),
    ],
)
def test_an_unknown_or_missing_message_type_is_refused(data, reason):
    assert reason_for(orjson.dumps(data)) == reason


@pytest.mark.parametrize("version", [None, "1", 1.0, True, 3, 99])
def test_a_missing_newer_or_non_integer_schema_version_is_refused(version):
    data = failed_data(schema_version=version)

    assert reason_for(orjson.dumps(data)) == (
        f"unsupported schema_version {version!r} for sync.failed"
    )


def test_the_current_schema_version_is_accepted():
    assert decode(orjson.dumps(failed_data(schema_version=2))) == failed()


def test_an_older_version_without_an_upcaster_is_refused():
    data = failed_data(schema_version=0)

    assert reason_for(orjson.dumps(data)) == "no upcaster for sync.failed v0"


def test_an_invalid_message_is_refused_with_the_validation_errors():
    reason = reason_for(orjson.dumps(failed_data(attempts=0)))

    assert reason.startswith("invalid sync.failed: ")
    assert "attempts" in reason


def test_unknown_fields_are_ignored():
    assert decode(orjson.dumps(failed_data(added_in_v1_1="x"))) == failed()


# upcasting


def test_an_older_version_is_upcast_then_validated(monkeypatch):
    seen: list[dict[str, Any]] = []

    def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(data))
        upgraded = {key: value for key, value in data.items() if key != "error"}
        upgraded["reason"] = data["error"]
        return upgraded

    monkeypatch.setitem(codec.UPCASTERS, ("sync.failed", 0), v0_to_v1)
    old = failed_data(schema_version=0, error="upstream answered 503")
    del old["reason"]

    # Then the real v1 -> v2 step: this reason names no kind it knows.
    assert decode(orjson.dumps(old)) == failed(kind="unknown")
    assert [data["schema_version"] for data in seen] == [0]


def test_upcast_steps_run_once_each_in_order_and_stamp_the_new_version(monkeypatch):
    calls: list[tuple[str, int]] = []

    def step(name: str) -> codec.Upcaster:
        def run(data: dict[str, Any]) -> dict[str, Any]:
            calls.append((name, data["schema_version"]))
            return dict(data)

        return run

    monkeypatch.setitem(codec.CURRENT_VERSIONS, "sync.failed", 3)
    monkeypatch.setitem(codec.UPCASTERS, ("sync.failed", 1), step("v1->v2"))
    monkeypatch.setitem(codec.UPCASTERS, ("sync.failed", 2), step("v2->v3"))

    # No v3 model exists, so validation refuses the upcast result; what
    # matters here is the chain that produced it.
    reason = reason_for(orjson.dumps(failed_data(schema_version=1)))

    assert calls == [("v1->v2", 1), ("v2->v3", 2)]
    assert reason.startswith("invalid sync.failed: ")
    assert "schema_version" in reason


# envelope defaults and broker names


def test_new_ids_are_fresh_32_character_lower_hex():
    ids = {new_id() for _ in range(100)}

    assert len(ids) == 100
    assert all(len(value) == 32 and value == value.lower() for value in ids)
    assert all(int(value, 16) >= 0 for value in ids)


def test_utc_now_is_timezone_aware_utc():
    before = datetime.now(UTC)

    now = utc_now()

    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)


def test_topology_names_without_a_prefix():
    topology = Topology()

    assert topology.commands_exchange == "randomuser.commands"
    assert topology.events_exchange == "randomuser.events"
    assert topology.dead_letter_exchange == "randomuser.dlx"
    assert topology.sync_requests_queue == "sync_worker.sync_requests"
    assert topology.scheduler_lock_queue == "sync_worker.scheduler_lock"
    assert topology.projector_queue == "query_service.projector"
    assert topology.dead_letter_tap_queue == "query_service.dead_letters"


def test_topology_names_under_a_prefix_are_namespaced():
    topology = Topology(prefix="t42")

    assert topology.commands_exchange == "t42.randomuser.commands"
    assert topology.events_exchange == "t42.randomuser.events"
    assert topology.dead_letter_exchange == "t42.randomuser.dlx"
    assert topology.sync_requests_queue == "t42.sync_worker.sync_requests"
    assert topology.projector_queue == "t42.query_service.projector"
    assert Topology.dead_letter_queue(topology.projector_queue) == (
        "t42.query_service.projector.dlq"
    )
