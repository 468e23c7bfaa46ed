"""The command API: validation, auth, and 202 only after the publish."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import aio_pika
import pytest

from command_service.app import create_app
from command_service.idempotency import IdempotencyKeys
from command_service.settings import CommandSettings
from contracts.commands import SyncRequested
from tests.support.fakes import FakePublisher

if TYPE_CHECKING:
    from contracts.codec import AnyMessage

TOKEN = "s3cret-token-for-tests"


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
async def client(aiohttp_client, publisher: FakePublisher):
    settings = CommandSettings(_env_file=None, command_token=TOKEN)
    return await aiohttp_client(create_app(settings, publisher=publisher))


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_a_sync_without_body_is_accepted_with_defaults(client, publisher) -> None:
    response = await client.post("/commands/sync", headers=AUTH)

    assert response.status == 202
    body = await response.json()
    assert body["status"] == "accepted"
    assert response.headers["Location"] == "/queries/sync-status"
    [command] = publisher.published
    assert isinstance(command, SyncRequested)
    assert command.command_id == body["command_id"]
    assert command.results == 5000
    assert command.trigger == "api"


async def test_a_sync_with_parameters_carries_them_into_the_command(
    client, publisher
) -> None:
    response = await client.post(
        "/commands/sync",
        json={"results": 120, "nationalities": ["us", "GB"], "seed": "abc123"},
        headers={**AUTH, "X-Correlation-ID": "corr-42"},
    )

    assert response.status == 202
    [command] = publisher.published
    assert isinstance(command, SyncRequested)
    assert (command.results, command.nationalities, command.seed) == (
        120,
        ("US", "GB"),
        "abc123",
    )
    assert command.correlation_id == "corr-42"
    assert response.headers["X-Correlation-ID"] == "corr-42"


async def test_the_request_id_of_the_proxy_is_kept_and_a_bad_one_replaced(
    client,
) -> None:
    given = await client.get(
        "/commands/openapi.json", headers={"X-Request-ID": "nginx-id-0123"}
    )
    hostile = await client.get(
        "/commands/openapi.json", headers={"X-Request-ID": "<script>"}
    )
    missing = await client.get("/commands/openapi.json")

    assert given.headers["X-Request-ID"] == "nginx-id-0123"
    made = {hostile.headers["X-Request-ID"], missing.headers["X-Request-ID"]}
    assert len(made) == 2  # a new id each, unique
    assert all(re.fullmatch(r"[0-9a-f]{17,}", made_id) for made_id in made), made


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"results": 0}, "results"),
        ({"results": 20001}, "results"),
        ({"results": "10"}, "results"),
        ({"nationalities": ["XX"]}, "nationalities"),
        ({"nationalities": []}, "nationalities"),
        ({"seed": "<script>"}, "seed"),
        ({"seed": "abcdefabcdefabcdzz"}, "seed"),
        ({"seed": "abcdefabcdefabcd15"}, "seed"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_a_bad_field_is_refused_with_a_problem_naming_it(
    client, publisher, body, named
) -> None:
    response = await client.post("/commands/sync", json=body, headers=AUTH)

    assert response.status == 422
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert named in problem["detail"]
    assert publisher.published == []


async def test_an_18_character_seed_with_a_nationality_index_is_accepted(
    client, publisher
):
    response = await client.post(
        "/commands/sync", json={"seed": "abcdefabcdefabcd13"}, headers=AUTH
    )

    assert response.status == 202


async def test_a_body_that_is_not_json_is_a_bad_request(client) -> None:
    response = await client.post(
        "/commands/sync",
        data=b"{nope",
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert response.status == 400
    assert "not valid JSON" in (await response.json())["detail"]


async def test_a_body_of_another_media_type_is_refused(client) -> None:
    response = await client.post(
        "/commands/sync",
        data=b"results=5",
        headers={**AUTH, "Content-Type": "text/plain"},
    )

    assert response.status == 415


async def test_a_huge_body_is_refused(client) -> None:
    response = await client.post(
        "/commands/sync",
        data=b"{" + b" " * 20_000 + b"}",
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert response.status == 413
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong-token-wrong-token", f"Basic {TOKEN}", "Bearer"]
)
async def test_a_command_without_the_right_token_is_unauthorised(
    client, publisher, header
) -> None:
    headers = {} if header is None else {"Authorization": header}

    response = await client.post("/commands/sync", headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert publisher.published == []


async def test_without_a_configured_token_commands_need_no_auth(aiohttp_client) -> None:
    publisher = FakePublisher()
    app = create_app(CommandSettings(_env_file=None), publisher=publisher)
    client = await aiohttp_client(app)

    response = await client.post("/commands/sync")

    assert response.status == 202


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("broker gone"),
        TimeoutError(),
        aio_pika.exceptions.ChannelInvalidStateError("closed"),
    ],
)
async def test_a_broker_that_does_not_confirm_gives_503_and_no_202(
    aiohttp_client, error
) -> None:
    publisher = FakePublisher(error=error)
    settings = CommandSettings(_env_file=None, publish_timeout_seconds=0.3)
    app = create_app(settings, publisher=publisher)
    client = await aiohttp_client(app)

    response = await client.post("/commands/sync")

    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    # The command may still be queued: the problem names it, so a caller can
    # look for its outcome before retrying.
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    # A closed channel is tried again until the deadline; each try is the
    # same command.
    assert len({message.command_id for message in publisher.attempted}) == 1  # type: ignore[union-attr]
    attempted = publisher.attempted[0]
    assert isinstance(attempted, SyncRequested)
    assert problem["command_id"] == attempted.command_id
    assert attempted.command_id in problem["detail"]
    assert "sync-status" in problem["detail"]


async def test_unknown_routes_and_wrong_methods_are_problems(client) -> None:
    missing = await client.get("/commands/nothing")
    wrong = await client.get("/commands/sync")

    assert missing.status == 404
    assert wrong.status == 405
    assert "POST" in wrong.headers["Allow"]
    assert wrong.content_type == "application/problem+json"


async def test_health_and_readiness_name_the_service_and_its_instance(
    aiohttp_client, publisher: FakePublisher
) -> None:
    settings = CommandSettings(
        _env_file=None, command_token=TOKEN, instance_id="command-7"
    )
    client = await aiohttp_client(create_app(settings, publisher=publisher))

    health = await client.get("/healthz")
    ready = await client.get("/readyz")

    assert health.status == ready.status == 200
    assert await health.json() == {
        "status": "ok",
        "service": "command_service",
        "instance": "command-7",
    }
    body = await ready.json()
    assert (body["service"], body["instance"], body["ready"]) == (
        "command_service",
        "command-7",
        True,
    )


def test_every_process_gets_its_own_instance_id_unless_one_is_set() -> None:
    first = CommandSettings(_env_file=None, command_token=TOKEN)
    second = CommandSettings(_env_file=None, command_token=TOKEN)

    assert first.instance_id != second.instance_id
    assert len(first.instance_id) == 32


def test_a_short_token_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        CommandSettings(_env_file=None, command_token="short")


async def test_an_idempotency_key_publishes_once_and_repeats_the_first_answer(
    client, publisher
) -> None:
    headers = {**AUTH, "Idempotency-Key": "sync-cron-29016840"}
    first = await client.post("/commands/sync", json={"results": 10}, headers=headers)
    again = await client.post("/commands/sync", json={"results": 10}, headers=headers)

    assert first.status == 202
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    assert len(publisher.published) == 1
    other = await client.post(
        "/commands/sync", json={"results": 10}, headers={**AUTH, "Idempotency-Key": "b"}
    )
    assert other.status == 202
    assert len(publisher.published) == 2


async def test_concurrent_requests_with_one_key_publish_once(client, publisher) -> None:
    headers = {**AUTH, "Idempotency-Key": "k1"}
    responses = await asyncio.gather(
        *(client.post("/commands/sync", headers=headers) for _ in range(5))
    )
    assert sorted(response.status for response in responses) == [200] * 4 + [202]
    assert len(publisher.published) == 1


async def test_a_key_reused_for_another_body_or_malformed_is_refused(client) -> None:
    headers = {**AUTH, "Idempotency-Key": "k2"}
    assert (
        await client.post("/commands/sync", json={"results": 1}, headers=headers)
    ).status == 202
    reused = await client.post("/commands/sync", json={"results": 2}, headers=headers)
    assert reused.status == 409
    assert "Idempotency-Key" in (await reused.json())["detail"]
    bad = await client.post(
        "/commands/sync", headers={**AUTH, "Idempotency-Key": "no spaces"}
    )
    assert bad.status == 400


async def test_a_failed_publish_is_not_remembered(aiohttp_client) -> None:
    publisher = FakePublisher()
    settings = CommandSettings(
        _env_file=None, command_token=TOKEN, publish_timeout_seconds=0.05
    )
    client = await aiohttp_client(create_app(settings, publisher=publisher))
    headers = {**AUTH, "Idempotency-Key": "k3"}
    publisher.error = aio_pika.exceptions.AMQPConnectionError("down")
    assert (await client.post("/commands/sync", headers=headers)).status == 503
    publisher.error = None
    assert (await client.post("/commands/sync", headers=headers)).status == 202


def test_keys_expire_after_the_window_and_beyond_the_capacity() -> None:
    now = [0.0]
    keys = IdempotencyKeys(window=10, capacity=2, clock=lambda: now[0])

    async def publish() -> bytes:
        return b"{}"

    async def scenario() -> list[bool]:
        replays = [
            (await keys.answer(key, "f", publish))[1]
            for key in ("a", "a", "b", "c", "a")
        ]
        now[0] = 100
        replays.append((await keys.answer("c", "f", publish))[1])
        return replays

    # "a" was the oldest of three with room for two: forgotten; after the window all are.
    assert asyncio.run(scenario()) == [False, True, False, False, False, False]
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("max_results", "results", "status"),
    [(20_000, 20_000, 202), (20_000, 20_001, 422), (1_000_000, 1_000_000, 202)],
)
async def test_results_are_bounded_by_sync_max_results(
    aiohttp_client, publisher, max_results, results, status
) -> None:
    settings = CommandSettings(
        _env_file=None, command_token=TOKEN, sync_max_results=max_results
    )
    client = await aiohttp_client(create_app(settings, publisher=publisher))

    response = await client.post(
        "/commands/sync", json={"results": results}, headers=AUTH
    )

    assert response.status == status
    if status == 422:
        assert "SYNC_MAX_RESULTS" in (await response.json())["detail"]
        assert publisher.published == []
    else:
        [command] = publisher.published
        assert isinstance(command, SyncRequested)
        assert command.results == results


async def test_a_command_refused_by_a_closed_channel_is_sent_again_and_accepted(
    aiohttp_client, caplog
) -> None:
    # While the connection moves to another broker node its channel is closed
    # for a moment: the command was never sent, so sending it again is safe.
    publisher = FlakyPublisher(
        aio_pika.exceptions.ChannelInvalidStateError("closed"), times=2
    )
    client = await aiohttp_client(
        create_app(CommandSettings(_env_file=None), publisher=publisher)
    )
    caplog.set_level(logging.WARNING, logger="command_service.routes")

    response = await client.post("/commands/sync")

    assert response.status == 202
    body = await response.json()
    assert [m.command_id for m in publisher.attempted] == [body["command_id"]] * 3  # type: ignore[union-attr]
    assert publisher.published == publisher.attempted[-1:]
    assert [r.args[1] for r in caplog.records if r.args] == [1, 2]


async def test_a_publish_whose_confirm_was_lost_is_not_sent_again(
    aiohttp_client,
) -> None:
    # A reset connection may have delivered it: 503 naming it, no second copy.
    publisher = FlakyPublisher(ConnectionResetError("reset"), times=1)
    client = await aiohttp_client(
        create_app(CommandSettings(_env_file=None), publisher=publisher)
    )

    response = await client.post("/commands/sync")

    assert response.status == 503
    assert len(publisher.attempted) == 1


class FlakyPublisher(FakePublisher):
    """Raises `error` on the first `times` publishes, then publishes."""

    def __init__(self, error: Exception, *, times: int) -> None:
        super().__init__()
        self._error = error
        self._times = times

    async def publish(self, message: AnyMessage) -> None:
        self.error = self._error if len(self.attempted) < self._times else None
        await super().publish(message)
