"""Helpers of the fault tests: a private stack to break, and what to check after.

No tests live here. The module is named like the `test_faults_*` modules it
serves so that it sits with them; pytest collects nothing from it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from common.amqp import AmqpPublisher, connect
from contracts.topology import Topology
from contracts.users import User
from devstack.config import ROOT
from devstack.processes import Process, die_with_parent
from devstack.readiness import free_port, port_open
from devstack.stack import Stack
from query_service.read_model import MongoReadModel
from tests.e2e.conftest import ARTIFACTS, StackClient, stack_config
from tests.support.broker import delete_topology
from tests.support.eventually import eventually
from tests.support.simulator import served_pages

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping

    from tests.support.rabbit_node import RabbitNode

Row = tuple[str, str, str, str]
"""One served user: (country, name, gender, email)."""

SERVICES: Final[dict[str, tuple[str, str]]] = {
    "projector": ("query_service.projector", "HEALTH_PORT"),
    "sync-worker": ("sync_worker", "HEALTH_PORT"),
    "command-service": ("command_service", "HTTP_PORT"),
    "query-1": ("query_service", "HTTP_PORT"),
    "query-2": ("query_service", "HTTP_PORT"),
}
"""Python services a test may stop and start again: module and port variable."""

FAULT_ENV: Final[dict[str, str]] = {
    # Several large syncs run in a few seconds: the worker's client-side
    # budget (20,000 users per 5 minutes) would make the later ones wait.
    "UPSTREAM_USERS_PER_WINDOW": "1000000",
}


class FaultStack:
    """A running stack of its own that a test may break, and ways to look inside."""

    def __init__(self, stack: Stack, amqp_url: str) -> None:
        self.stack = stack
        self.client = StackClient(stack)
        self.amqp_url = amqp_url
        self.topology = Topology(stack.config.amqp_namespace)

    # -- processes ----------------------------------------------------------

    def ready_urls(self) -> dict[str, str]:
        """The /readyz URL of every Python service, by process name."""
        return {
            process.name: process.ready_url
            for process in self.stack.processes
            if process.ready_url is not None
        }

    async def readiness(self) -> dict[str, int]:
        """The /readyz status of every Python service (0 when it does not answer)."""
        statuses: dict[str, int] = {}
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=2)
        ) as session:
            for name, url in self.ready_urls().items():
                try:
                    async with session.get(url) as response:
                        statuses[name] = response.status
                except (aiohttp.ClientError, TimeoutError):
                    statuses[name] = 0
        return statuses

    async def all_ready(self, timeout: float = 60) -> None:
        """Wait until every Python service answers /readyz with 200."""

        async def ready() -> bool:
            statuses = await self.readiness()
            assert set(statuses.values()) == {200}, statuses
            return True

        await eventually(ready, timeout=timeout, interval=0.2, what="every /readyz 200")

    async def stop_service(
        self, name: str, sig: signal.Signals, timeout: float = 30
    ) -> int:
        """Send `sig` to a service (SIGKILL: its process group); its exit code."""
        process = self.stack.process(name)
        if sig == signal.SIGKILL:
            os.killpg(process.popen.pid, sig)
        else:
            process.popen.send_signal(sig)
        return await asyncio.to_thread(process.popen.wait, timeout)

    async def restart(self, name: str) -> Process:
        """Start a stopped Python service again with its settings; wait until ready."""
        old = self._retire(name)
        module, port_variable = SERVICES[name]
        assert old.ready_url is not None
        port = urlsplit(old.ready_url).port
        return await asyncio.to_thread(
            self.stack.start_python,
            name,
            module,
            old.ready_url,
            60,
            **{port_variable: str(port)},
        )

    async def restart_mongo(self) -> None:
        """Start the stack's own nx-27017 again, on its port and data directory."""
        index = next(
            i for i, p in enumerate(self.stack.processes) if p.name == "nx-27017"
        )
        process = await asyncio.to_thread(_respawn, self._retire("nx-27017"))
        # Where it was: Stack.stop() stops it last, after its clients.
        self.stack.processes.insert(index, process)
        port = self.stack.config.mongo_port

        async def listening() -> bool:
            code = process.popen.poll()
            assert code is None, f"nx-27017 exited with {code}"
            return port_open("127.0.0.1", port)

        await eventually(listening, timeout=30, what="nx-27017 listening again")

    def _retire(self, name: str) -> Process:
        old = self.stack.process(name)
        assert old.popen.poll() is not None, f"{name} is still running"
        self.stack.processes.remove(old)
        old.log_file.close()
        return old

    def log(self, name: str) -> str:
        """Everything a service has logged so far (across restarts)."""
        path = self.stack.config.run_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace")

    async def served_everywhere(
        self, sync_id: str, timeout: float = 30
    ) -> dict[str, Any]:
        """Wait until every replica and nginx serve snapshot `sync_id`; nginx's body."""
        return await eventually(
            lambda: self.served_by_all(sync_id),
            timeout=timeout,
            what=f"{sync_id} served",
        )

    async def served_by_all(self, sync_id: str) -> dict[str, Any]:
        """nginx's body if every replica and nginx serve snapshot `sync_id` now;
        otherwise an AssertionError naming what each one serves."""
        bodies: dict[str, dict[str, Any]] = {
            origin: await self.client.get_json("/queries/countries", origin=origin)
            for origin in (*self.client.replica_urls, self.client.base_url)
        }
        serving = {
            origin: (body.get("snapshot") or {}).get("id")
            for origin, body in bodies.items()
        }
        assert set(serving.values()) == {sync_id}, (
            f"{sync_id} wanted; served: {serving}"
        )
        return bodies[self.client.base_url]

    # -- the read model -----------------------------------------------------

    @contextlib.asynccontextmanager
    async def read_model(self) -> AsyncIterator[MongoReadModel]:
        """The stack's read model, read directly (the test's own client)."""
        async with MongoReadModel.open(
            self.stack.mongo_url,
            self.stack.config.mongo_database,
            server_timeout=2,
            app_name="fault-test",
        ) as model:
            yield model

    async def staging_begun(self, *, at_most: int = 5) -> None:
        """Wait until a sync has between 1 and `at_most` batches staged.

        Early in the staging on purpose: what the test does next lands while
        the sync's later batches and its sync.completed are still to come.
        """
        async with self.read_model() as model:

            async def begun() -> bool:
                status = await model.sync_status(recent=5)
                return any(
                    record.state == "staging"
                    and 0 < len(record.staged_batches) <= at_most
                    for record in status.recent
                )

            await eventually(begun, interval=0.005, what="staging begun")

    # -- upstream -----------------------------------------------------------

    async def faults_pending(self) -> list[dict[str, Any]]:
        """The simulator's faults not yet used up."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.stack.sim_url}/_sim/faults") as response,
        ):
            faults: list[dict[str, Any]] = (await response.json())["faults"]
            return faults

    async def upstream_served(
        self, *, seed: str, results: int | None
    ) -> list[dict[str, Any]]:
        """The users the simulator recorded serving for `seed` (`GET /_sim/served`):
        one complete 200 answer per page, pages in order.

        The oracle of the fault tests: what upstream actually sent, from the
        simulator's own record, not recomputed with the production client.
        """
        pages = await served_pages(self.stack.sim_url, seed)
        users = [user for page in sorted(pages) for user in pages[page]]
        assert results is None or len(users) == results, (
            f"the simulator served {len(users)} users for {seed}"
            f" in pages {sorted(pages)}, not {results}"
        )
        return users

    async def upstream_counts(self) -> dict[str, int]:
        """For every completed sync sync-status lists, by sync id: how many users
        the simulator served for its seed (what readers must see in full)."""
        status = await self.client.get_json("/queries/sync-status")
        counts: dict[str, int] = {}
        for attempt in status["recent"]:
            if attempt["user_count"] is None:
                continue
            assert attempt["seed"], attempt
            served = await self.upstream_served(seed=attempt["seed"], results=None)
            counts[attempt["sync_id"]] = len(served)
        return counts

    async def upstream_rows(self, *, seed: str, results: int) -> Counter[Row]:
        """The users upstream served for `seed`, as the rows a snapshot must list."""
        users = await self.upstream_served(seed=seed, results=results)
        return Counter(
            (
                user["country"],
                f"{user['name']['first']} {user['name']['last']}",
                user["gender"],
                user["email"],
            )
            for user in users
        )

    async def sim_users(self, *, seed: str, results: int) -> list[User]:
        """Users to publish by hand, drawn from the simulator (one request)."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{self.stack.sim_url}/api/",
                params={"results": str(results), "seed": seed},
            ) as response,
        ):
            body = await response.json()
        return [
            User(
                name=f"{raw['name']['first']} {raw['name']['last']}",
                gender=raw["gender"],
                email=raw["email"],
                country=raw["location"]["country"],
                title=raw["name"]["title"],
                nat=raw["nat"],
                uuid=raw["login"]["uuid"],
            )
            for raw in body["results"]
        ]

    # -- the broker ---------------------------------------------------------

    @contextlib.asynccontextmanager
    async def publisher(self) -> AsyncIterator[AmqpPublisher]:
        """A publisher into the stack's namespace, as the sync worker has."""
        connection = await connect(self.amqp_url, name="fault-test", within=10)
        async with connection:
            yield await AmqpPublisher.open(connection, self.topology)

    async def queue_ready(self, queue: str) -> int:
        """Messages of one of the stack's queues waiting for a consumer, exactly
        (a passive declare asks the queue itself)."""
        connection = await connect(self.amqp_url, name="fault-test", within=10)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count or 0

    async def queue_counts(self, queue: str) -> tuple[int, int]:
        """(ready, unacknowledged) messages of one of the stack's queues.

        From `rabbitmqctl`, whose figures for a quorum queue are refreshed on
        the queue's tick, every 5 s: check them only with `eventually`, for a
        state that lasts.
        """
        out = await rabbitmqctl(
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        )
        for line in out.splitlines():
            fields = line.split("\t")
            if fields[0] == queue:
                return int(fields[1]), int(fields[2])
        raise AssertionError(f"queue {queue} does not exist")


@contextlib.asynccontextmanager
async def private_stack(
    amqp_url: str,
    mongo_url: str,
    *,
    label: str,
    own_mongo: bool = False,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[FaultStack]:
    """Start a whole stack for one test; stop it and delete what it made after.

    With `own_mongo`, devstack starts an nx-27017 of the stack's own (on a
    free port, data in the run directory) that the test may kill. Logs are
    copied to tests/artifacts/fault-logs/<label>/ when the test fails.
    """
    with tempfile.TemporaryDirectory(prefix="e2e-faults-") as tmp:
        run_dir = Path(tmp)
        config = stack_config(amqp_url, mongo_url, run_dir)
        config.extra_env.update({**FAULT_ENV, **(env or {})})
        # A redelivered 20,000-user command fetches again at once: upstream's
        # rate limit would turn that retry into a failure.
        config = dataclasses.replace(config, sim_args=("--rate-limit-users", "0"))
        if own_mongo:
            config = dataclasses.replace(config, mongo_url=None, mongo_port=free_port())
        stack = Stack(config)
        # Should the test be torn down without reaching `finally` (a timeout
        # abandoning the event loop), its processes still stop at exit.
        atexit.register(stack.stop)
        failed = False
        try:
            await asyncio.to_thread(stack.start)
            yield FaultStack(stack, amqp_url)
        except BaseException:
            failed = True
            raise
        finally:
            await asyncio.to_thread(stack.stop)
            atexit.unregister(stack.stop)
            if failed:
                _keep_logs(run_dir, label)
            await delete_topology(amqp_url, Topology(config.amqp_namespace))
            if not own_mongo:
                await _drop_database(mongo_url, config.mongo_database)


def _respawn(old: Process) -> Process:
    """Run a stopped process's command line again, appending to its log."""
    log_file = old.log_path.open("ab")
    popen = subprocess.Popen(
        old.popen.args,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    return Process(old.name, popen, old.log_path, log_file)


def _keep_logs(run_dir: Path, label: str) -> None:
    """Copy the stack's logs to the artifacts and print the last warnings of
    each service, so that a failure in CI, where artifacts are gone with the
    clone, still says what the services saw."""
    logs = run_dir / "logs"
    if not logs.exists():
        return
    target = ARTIFACTS / "fault-logs" / label
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(logs, target)
    for log in sorted(logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        notable = [line for line in lines if _NOTABLE.search(line)][-LOG_TAIL:]
        logger.warning(
            "%s (%d lines), its last warnings and errors:\n%s",
            log.name,
            len(lines),
            "\n".join(line[:400] for line in notable),
        )


logger = logging.getLogger(__name__)
LOG_TAIL = 15
_NOTABLE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback|Error:")


async def _drop_database(mongo_url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, serverSelectionTimeoutMS=5000
    )
    try:
        await client.drop_database(database)
    finally:
        await client.close()


# -- the machine's RabbitMQ ---------------------------------------------------


def local_broker(amqp_url: str) -> None:
    """Skip unless the session's broker is this machine's RabbitMQ (rabbitmqctl)."""
    parts = urlsplit(amqp_url)
    if parts.hostname not in {"127.0.0.1", "localhost"} or parts.port not in {
        None,
        5672,
    }:
        pytest.skip(f"the broker at {amqp_url} is not this machine's RabbitMQ")
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")


async def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    """Run rabbitmqctl; its standard output. Raises AssertionError on failure."""
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout):
        out, err = await process.communicate()
    if process.returncode != 0:
        raise AssertionError(
            f"rabbitmqctl {' '.join(args)} exited {process.returncode}: "
            f"{err.decode(errors='replace')}"
        )
    return out.decode(errors="replace")


@contextlib.asynccontextmanager
async def broker_stopped(node: RabbitNode) -> AsyncIterator[None]:
    """Stop a private node's RabbitMQ application for the block; always start it
    again after."""
    await asyncio.to_thread(node.stop_app)
    try:
        yield
    finally:
        await asyncio.to_thread(node.start_app)


# -- what readers saw ---------------------------------------------------------


def rows_of(body: Mapping[str, Any]) -> Counter[Row]:
    """The users of a /queries/countries body as (country, name, gender, email)."""
    return Counter(
        (country["name"], user["name"], user["gender"], user["email"])
        for country in body["countries"]
        for user in country["users"]
    )


@dataclasses.dataclass(frozen=True)
class Seen:
    """One /queries/countries answer a reader got."""

    origin: str
    status: int
    snapshot_id: str | None
    user_count: int | None
    users_listed: int


class Readers:
    """Readers polling /queries/countries on every origin for as long as the block runs.

    Each keeps what it was answered; `check` then says whether every answer
    was one complete snapshot.
    """

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = tuple(origins)
        self.seen: list[Seen] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Readers:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _poll(self) -> None:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=5)
        ) as session:
            while not self._stop.is_set():
                for origin in self.origins:
                    self.seen.append(await self._read(session, origin))
                # Pacing, not synchronisation: leave the CPU to the stack.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=0.02)

    @staticmethod
    async def _read(session: aiohttp.ClientSession, origin: str) -> Seen:
        try:
            async with session.get(f"{origin}/queries/countries") as response:
                if response.status != 200:
                    return Seen(origin, response.status, None, None, 0)
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError):
            return Seen(origin, 0, None, None, 0)
        snapshot = body.get("snapshot") or {}
        return Seen(
            origin,
            200,
            snapshot.get("id"),
            snapshot.get("user_count"),
            sum(len(country["users"]) for country in body["countries"]),
        )

    def check(self, completed: Mapping[str, int]) -> set[str | None]:
        """Assert every answer was 200 and one complete snapshot; the ids seen.

        Args:
            completed: user_count of every sync that completed, by sync id.
        """
        assert self.seen, "no reader got an answer"
        for seen in self.seen:
            assert seen.status == 200, seen
            if seen.snapshot_id is None:
                assert seen.users_listed == 0, seen
                continue
            assert seen.snapshot_id in completed, seen
            assert seen.user_count == seen.users_listed, seen
            assert seen.user_count == completed[seen.snapshot_id], seen
        return {seen.snapshot_id for seen in self.seen}


async def completed_counts(client: StackClient) -> dict[str, int]:
    """user_count announced by sync.completed for every completed attempt listed.

    Only for tests that publish the events themselves (the counts are then the
    test's own input); syncs fetched from the simulator use
    `FaultStack.upstream_counts`, what upstream served.
    """
    status = await client.get_json("/queries/sync-status")
    return {
        attempt["sync_id"]: attempt["user_count"]
        for attempt in status["recent"]
        if attempt["user_count"] is not None
    }
