"""Rollouts under 200 req/s: replicas restarted, nginx reloaded and restarted, 0 failures."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from devstack.config import render_nginx_conf
from tests.e2e.test_faults_support import FaultStack, private_stack
from tests.support.eventually import eventually
from tests.support.nginx_check import nginx_binary

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.e2e.conftest import StackClient

RATE = 200
"""Requests per second, started on a fixed schedule whatever the answers take."""


class Load:
    """GETs through nginx at RATE per second on new connections, counted by outcome."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.outcomes: Counter[str] = Counter()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        # A new connection per request: a client on a kept-alive connection
        # that nginx closes while stopping would retry it (browsers do);
        # counting those as failures would measure the client, not the rollout.
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as s:
            requests: set[asyncio.Task[None]] = set()
            started = time.monotonic()
            sent = 0
            while not self._stop.is_set():
                due = started + sent / RATE
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), max(0.0, due - time.monotonic())
                    )
                task = asyncio.create_task(self._one(s, sent))
                requests.add(task)
                task.add_done_callback(requests.discard)
                sent += 1
            await asyncio.gather(*requests)

    async def _one(self, session: aiohttp.ClientSession, index: int) -> None:
        # "no-cache" passes nginx's micro-cache: every read reaches a replica.
        path = ("/queries/countries", "/queries/sync-status")[index % 2]
        try:
            async with session.get(
                self.base_url + path, headers={"Cache-Control": "no-cache"}
            ) as response:
                await response.read()
                self.outcomes[str(response.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.outcomes[type(exc).__name__] += 1

    def stop(self) -> None:
        self._stop.set()


@contextlib.asynccontextmanager
async def load_on(base_url: str) -> AsyncIterator[Load]:
    load = Load(base_url)
    task = asyncio.create_task(load.run())
    try:
        # Traffic flows before anything is restarted.
        await eventually(
            lambda: _async(sum(load.outcomes.values()) >= RATE // 2),
            timeout=10,
            what="the load running",
        )
        yield load
    finally:
        load.stop()
        await task


async def _async(value: bool) -> bool:
    return value


async def restart_replica(fs: FaultStack, name: str) -> None:
    """What a rolling update does to one pod: SIGTERM, wait, start, wait until
    ready, and until nginx uses it again (minReadySeconds)."""
    assert await fs.stop_service(name, signal.SIGTERM) == 0
    # From here on the log can only show the new process answering: the old
    # one has exited, its drained requests are logged before this point.
    since = access_log_size(fs)
    await fs.restart(name)
    await routed_again(fs, name, since)


async def routed_again(fs: FaultStack, name: str, since: int) -> None:
    """Wait until nginx answered a read from `name` again after byte `since` of
    its access log: nginx's passive check (max_fails, fail_timeout) has
    forgiven the restart. A rolling update waits for this (minReadySeconds)
    before it stops the next replica."""
    index = int(name.rsplit("-", 1)[1]) - 1
    # Only that replica, answering 200: a request retried elsewhere after it
    # failed there names it too ("upstream":"<it>, <other>").
    port = fs.stack.config.query_ports[index]
    upstream = f'"upstream":"127.0.0.1:{port}","upstream_status":"200"'
    log = fs.stack.config.run_dir / "logs" / "nginx-access.log"

    def served() -> bool:
        with log.open("rb") as file:
            file.seek(since)
            return upstream in file.read().decode()

    await eventually(
        lambda: asyncio.to_thread(served), timeout=15, what=f"nginx using {name}"
    )


def access_log_size(fs: FaultStack) -> int:
    return (fs.stack.config.run_dir / "logs" / "nginx-access.log").stat().st_size


@pytest.mark.timeout(120)
async def test_a_rollout_under_load_fails_no_request(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(amqp_url, mongo_url, label="rollout") as fs:
        await fs.client.sync(results=200, seed="rollout")
        async with load_on(fs.client.base_url) as load:
            for name in ("query-1", "query-2"):
                await restart_replica(fs, name)
            # A configuration reload: new workers start, the old ones finish
            # what they hold (worker_shutdown_timeout) and exit.
            fs.stack.process("nginx").popen.send_signal(signal.SIGHUP)
            served = sum(load.outcomes.values())
            await eventually(
                lambda: _async(sum(load.outcomes.values()) >= served + RATE),
                timeout=15,
                what="a second of load after the reload",
            )
        total = sum(load.outcomes.values())
        assert load.outcomes == {"200": total}, load.outcomes
        assert total >= 3 * RATE


def _spawn_gateway(
    stack: StackClient, run_dir: Path, port: int, listener: socket.socket
) -> subprocess.Popen[bytes]:
    """A local nginx master for `stack` that takes `listener` instead of binding.

    nginx inherits listening sockets named in the NGINX environment variable
    (what its own binary upgrade uses): each master started this way accepts
    on the one socket the test holds, so stopping one never closes it.
    """
    config = dataclasses.replace(
        stack.stack.config, run_dir=run_dir, http_port=port, nginx_cache_dir=None
    )
    run_dir.chmod(0o755)  # nginx's workers (nobody) read below it
    for sub in ("logs", "nginx-tmp", "nginx-cache"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(run_dir / sub, nobody.pw_uid, nobody.pw_gid)
    conf = run_dir / "nginx.conf"
    conf.write_text(render_nginx_conf(config))
    nginx = nginx_binary()
    fd = listener.fileno()
    with (run_dir / "logs" / "nginx.out").open("wb") as out:
        return subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(run_dir)],
            env={"NGINX": f"{fd};"},
            pass_fds=(fd,),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _quit(process: subprocess.Popen[bytes]) -> bool:
    """Stop an nginx gracefully (QUIT); kill it after 30 s. True if it quit."""
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGQUIT)
    try:
        await asyncio.to_thread(process.wait, 30)
    except subprocess.TimeoutExpired:
        process.kill()
        await asyncio.to_thread(process.wait)
        return False
    return True


async def _serving(run_dir: Path) -> None:
    """Wait until the nginx of `run_dir` has answered a request itself."""
    log = run_dir / "logs" / "nginx-access.log"

    def answered() -> bool:
        return log.exists() and '"status":200' in log.read_text()

    await eventually(
        lambda: asyncio.to_thread(answered), timeout=15, what=f"nginx in {run_dir}"
    )


@pytest.mark.timeout(90)
async def test_the_gateway_restarts_under_load_without_failing_a_request(
    stack: StackClient,
) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="e2e-gw-old-") as old_dir,
        tempfile.TemporaryDirectory(prefix="e2e-gw-new-") as new_dir,
        socket.create_server(("127.0.0.1", 0), backlog=511) as listener,
    ):
        port = listener.getsockname()[1]
        old = _spawn_gateway(stack, Path(old_dir), port, listener)
        new: subprocess.Popen[bytes] | None = None
        try:
            async with load_on(f"http://127.0.0.1:{port}") as load:
                await _serving(Path(old_dir))
                # The restart: a second master on the same socket, then the
                # first one stops gracefully (QUIT: open requests finish).
                new = _spawn_gateway(stack, Path(new_dir), port, listener)
                await _serving(Path(new_dir))
                old.send_signal(signal.SIGQUIT)
                assert await asyncio.to_thread(old.wait, 30) == 0
                served = sum(load.outcomes.values())
                await eventually(
                    lambda: _async(sum(load.outcomes.values()) >= served + RATE),
                    timeout=15,
                    what="a second of load on the new nginx alone",
                )
        finally:
            # Never raise from here: an error above must stay the one reported.
            stuck = [
                process.args
                for process in (old, new)
                if process is not None and not await _quit(process)
            ]
        assert stuck == [], "nginx did not quit gracefully within 30 s"
        total = sum(load.outcomes.values())
        assert load.outcomes == {"200": total}, load.outcomes
        assert total >= RATE
