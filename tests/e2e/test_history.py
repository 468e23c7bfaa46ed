"""Snapshot history through nginx, on the real read model: the list, an old
snapshot byte for byte as it was served, and a diff graded against what the
simulator recorded serving; the event log the services keep, and a rebuild
from it that serves the same bytes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import aiohttp
from pymongo import AsyncMongoClient

from common.amqp_cluster import connect_once
from common.event_log import read_event_log
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, UsersFetched
from contracts.topology import Topology
from query_service.read_model import MongoReadModel
from query_service.rebuild import rebuild
from query_service.settings import ProjectorSettings
from tests.support.simulator import served_pages

if TYPE_CHECKING:
    from tests.e2e.conftest import StackClient


async def _get(url: str, **params: str) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params=params, headers={"Accept-Encoding": "identity"}) as r,
    ):
        return r.status, r.headers.get("Content-Type", ""), await r.read()


async def _served_by_country(
    stack: StackClient, seed: str
) -> dict[str, dict[str, tuple[str, str, str]]]:
    """By country, by login uuid: (name, gender, e-mail) of each user the
    simulator recorded serving for `seed`."""
    pages = await served_pages(stack.sim_url, seed)
    countries: defaultdict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for users in pages.values():
        for user in users:
            name = f"{user['name']['first']} {user['name']['last']}"
            countries[user["country"]][user["uuid"]] = (
                name,
                user["gender"],
                user["email"],
            )
    return countries


async def test_history_lists_serves_and_diffs_kept_snapshots(
    stack: StackClient,
) -> None:
    first = await stack.sync(results=40, seed="history-a")
    _, _, served_then = await _get(f"{stack.base_url}/queries/countries")
    second = await stack.sync(results=30, seed="history-b")
    old, new = first["snapshot"]["id"], second["snapshot"]["id"]

    listed = await stack.get_json("/queries/snapshots?size=2")
    status, _, now_served_old = await _get(
        f"{stack.base_url}/queries/snapshots/{old}/countries"
    )
    diff = await stack.get_json(f"/queries/snapshots/{new}/diff?from={old}")

    assert [(s["id"], s["current"]) for s in listed["snapshots"]] == [
        (new, True),
        (old, False),
    ]
    assert listed["total"] >= 2
    assert status == 200
    assert now_served_old == served_then
    before = await _served_by_country(stack, "history-a")
    after = await _served_by_country(stack, "history-b")
    expected = {}
    for name in before.keys() | after.keys():
        was, now = before.get(name, {}), after.get(name, {})
        expected[name] = (
            Counter(now[u][2] for u in now.keys() - was.keys()),
            Counter(was[u][2] for u in was.keys() - now.keys()),
            Counter(now[u][2] for u in now.keys() & was.keys() if now[u] != was[u]),
        )
    got = {
        c["name"]: (
            Counter(u["email"] for u in c["added"]),
            Counter(u["email"] for u in c["removed"]),
            Counter(change["after"]["email"] for change in c["changed"]),
        )
        for c in diff["countries"]
    }
    assert got == {name: change for name, change in expected.items() if any(change)}
    assert diff["counts"]["added"] == sum(a.total() for a, _, _ in expected.values())
    assert diff["counts"]["removed"] == sum(r.total() for _, r, _ in expected.values())


async def test_history_errors_are_problems_through_nginx(stack: StackClient) -> None:
    body = await stack.sync(results=10, seed="history-errors")
    current = body["snapshot"]["id"]

    unknown = await _get(f"{stack.base_url}/queries/snapshots/no-such-sync/countries")
    no_base = await _get(f"{stack.base_url}/queries/snapshots/{current}/diff")
    bad_page = await _get(f"{stack.base_url}/queries/snapshots", page="0")

    assert unknown[:2] == (404, "application/problem+json")
    assert b"no-such-sync" in unknown[2]
    assert no_base[:2] == (422, "application/problem+json")
    assert b"'from'" in no_base[2]
    assert bad_page[:2] == (422, "application/problem+json")


async def test_the_event_log_keeps_a_sync_from_command_to_completion(
    stack: StackClient,
) -> None:
    command = await stack.trigger(results=25, seed="history-log")
    attempt = await stack.attempt_of(command)
    config = stack.stack.config
    connection = await connect_once(
        config.amqp_url, name="test-log", connect_timeout=10
    )
    try:
        logged = [
            entry.message
            async for entry in read_event_log(
                connection, Topology(config.amqp_namespace)
            )
        ]
    finally:
        await connection.close()

    mine = [
        m
        for m in logged
        if getattr(m, "command_id", None) == command
        or getattr(m, "sync_id", None) == attempt["sync_id"]
    ]
    assert isinstance(mine[0], SyncRequested)
    assert isinstance(mine[-1], SyncCompleted)
    batches = [m for m in mine if isinstance(m, UsersFetched)]
    assert sorted(b.batch_index for b in batches) == list(range(len(batches)))
    assert sum(len(b.users) for b in batches) == 25


async def test_a_rebuild_from_the_event_log_serves_the_same_bytes(
    stack: StackClient, mongo_url: str
) -> None:
    await stack.sync(results=30, seed="rebuild-a")
    await stack.sync(results=20, seed="rebuild-b")
    listed = await stack.get_json("/queries/snapshots?size=100")
    # The oracle: the bytes readers were served, current and historical.
    served = {
        s["id"]: (
            await _get(f"{stack.base_url}/queries/snapshots/{s['id']}/countries")
        )[2]
        for s in listed["snapshots"]
    }
    current = listed["snapshots"][0]["id"]
    assert served[current] == (await _get(f"{stack.base_url}/queries/countries"))[2]
    config = stack.stack.config
    settings = ProjectorSettings.model_validate(
        {
            "_env_file": None,
            "amqp_url": config.amqp_url,
            "amqp_namespace": config.amqp_namespace,
            "mongo_url": mongo_url,
            "mongo_database": config.mongo_database,
        }
    )
    rebuilt = [f"{config.mongo_database[:50]}_r{run}" for run in (1, 2)]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        # Once in this process, once as an operator runs it.
        outcome = await rebuild(settings, rebuilt[0])
        assert outcome.verified.mismatches == []
        assert set(outcome.verified.compared) == set(served)
        assert outcome.replayed.events > 0
        assert not outcome.switched
        command = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "connector_cli",
                "rebuild",
                "--database",
                rebuilt[1],
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={
                **os.environ,
                "AMQP_URL": config.amqp_url,
                "AMQP_NAMESPACE": config.amqp_namespace,
                "MONGO_URL": mongo_url,
                "MONGO_DATABASE": config.mongo_database,
            },
        )
        assert command.returncode == 0, command.stderr
        assert (
            f"snapshots kept by both it and {config.mongo_database}: 0 differences"
            in (command.stdout)
        )
        for database in rebuilt:
            async with MongoReadModel.open(
                mongo_url, database, server_timeout=5, app_name="test"
            ) as model:
                pointer = await model.pointer()
                assert pointer is not None
                assert pointer.snapshot_id == current
                for snapshot_id, body in served.items():
                    snapshot = await model.snapshot(snapshot_id)
                    assert snapshot is not None
                    assert snapshot.countries_json == body, (database, snapshot_id)
    finally:
        for database in rebuilt:
            await client.drop_database(database)
        await client.close()
