"""Syncs driven through nginx and timed until every replica serves them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import aiohttp

from bench.stack import TOKEN, BenchStack
from common.amqp_cluster import connect_once
from contracts.topology import Topology

if TYPE_CHECKING:
    import aio_pika
    from aio_pika.abc import AbstractIncomingMessage


@dataclass
class SyncRun:
    """The timeline of one sync, in seconds after the POST was sent."""

    users: int
    started_at: float = 0.0
    """Epoch seconds when the POST was sent."""
    accepted: float = 0.0
    first_batch: float | None = None
    completed_event: float | None = None
    replicas_visible: list[float] = field(default_factory=list)
    nginx_revalidating: float | None = None
    nginx_plain: float | None = None
    messages: int = 0
    message_bytes: int = 0
    user_count: int = 0
    snapshot_id: str = ""
    correlation_id: str = ""

    @property
    def visible(self) -> float:
        """When every replica served the new snapshot."""
        return max(self.replicas_visible)


class EventObserver:
    """Sees every event the stack publishes, with the time it arrived here."""

    def __init__(self, amqp_url: str, namespace: str) -> None:
        self._url = amqp_url
        self._topology = Topology(namespace)
        self.events: list[tuple[float, str, str, int]] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self) -> None:
        """Bind a private queue to the events exchange and start consuming."""
        self._connection = await connect_once(
            self._url, name="bench-observer", connect_timeout=10
        )
        channel = await self._connection.channel()
        exchange = await channel.get_exchange(self._topology.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.events.append(
            (
                time.time(),
                message.routing_key or "",
                message.correlation_id or "",
                len(message.body),
            )
        )

    async def close(self) -> None:
        """Stop consuming."""
        if self._connection is not None:
            await self._connection.close()


COUNTRIES: Final = "/queries/countries"
NAMES: Final = "/queries/countries/names"
"""What the replicas are polled on: a replica switches to a snapshot without
reading the /queries/countries bodies (nginx serves those from the snapshot's
files), and a poll of that path would make it read them at once."""


async def _etag(session: aiohttp.ClientSession, url: str) -> str | None:
    """The tag of `url` in gzip, as `_wait_visible` polls it."""
    async with session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
        await response.read()
        return response.headers.get("ETag")


async def _wait_visible(
    session: aiohttp.ClientSession,
    url: str,
    old: str | None,
    t0: float,
    headers: dict[str, str],
) -> float:
    """Poll `url` until it serves a snapshot other than `old`; seconds after t0.

    `If-None-Match` makes every poll of the old snapshot a small 304.
    """
    request_headers = {"Accept-Encoding": "gzip", **headers}
    if old is not None:
        request_headers["If-None-Match"] = old
    while True:
        async with session.get(url, headers=request_headers) as response:
            await response.read()
            etag = response.headers.get("ETag")
            if response.status == 200 and etag is not None and etag != old:
                return time.time() - t0
        await asyncio.sleep(0.01)


async def run_sync(
    bench: BenchStack,
    users: int,
    seed: str,
    observer: EventObserver | None = None,
    *,
    revalidating_poll: bool = True,
    within: float = 60,
) -> SyncRun:
    """POST /commands/sync through nginx and time it until the snapshot is served.

    Visible means: each replica, nginx for a plain client (the micro-cache
    may hold the previous snapshot for up to its validity) and, unless
    `revalidating_poll` is false, nginx for a revalidating client (it
    bypasses the micro-cache, and its answer refreshes the cache for all).
    """
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False
    ) as session:
        old = await _etag(session, f"{bench.base_url}{COUNTRIES}")
        old_names = await _etag(session, f"{bench.replica_urls[0]}{NAMES}")
        seen = len(observer.events) if observer else 0
        t0 = time.time()
        async with session.post(
            f"{bench.base_url}/commands/sync",
            json={"results": users, "seed": seed},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            body = await response.json()
            if response.status != 202:
                raise RuntimeError(f"sync refused: {response.status} {body}")
        run = SyncRun(users=users, started_at=t0, accepted=time.time() - t0)
        run.correlation_id = body["correlation_id"]
        targets: list[tuple[str, str | None, dict[str, str]]] = [
            *[(f"{url}{NAMES}", old_names, {}) for url in bench.replica_urls],
            (f"{bench.base_url}{COUNTRIES}", old, {}),
        ]
        if revalidating_poll:
            targets.append(
                (f"{bench.base_url}{COUNTRIES}", old, {"Cache-Control": "no-cache"})
            )
        async with asyncio.timeout(within):
            times = await asyncio.gather(
                *[
                    _wait_visible(session, url, tag, t0, headers)
                    for url, tag, headers in targets
                ]
            )
        count = len(bench.replica_urls)
        run.replicas_visible = list(times[:count])
        run.nginx_plain = times[count]
        if revalidating_poll:
            run.nginx_revalidating = times[count + 1]
        async with session.get(f"{bench.replica_urls[0]}{NAMES}") as response:
            names = await response.json()
        run.user_count = names["snapshot"]["user_count"]
        run.snapshot_id = names["snapshot"]["id"]
    if observer is not None:
        # The last event may arrive here a moment after the snapshot is served.
        await asyncio.sleep(0.05)
        mine = [e for e in observer.events[seen:] if e[2] == run.correlation_id]
        batches = [e for e in mine if e[1] == "users.fetched"]
        completed = [e for e in mine if e[1] == "sync.completed"]
        run.messages = len(mine)
        run.message_bytes = sum(e[3] for e in mine)
        if batches:
            run.first_batch = batches[0][0] - t0
        if completed:
            run.completed_event = completed[0][0] - t0
    return run


async def countries_bytes(url: str) -> tuple[bytes, bytes]:
    """The identity and gzip bodies of `GET url/queries/countries`, as sent."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(
            f"{url}/queries/countries", headers={"Accept-Encoding": "identity"}
        ) as response:
            identity = await response.read()
        async with session.get(
            f"{url}/queries/countries", headers={"Accept-Encoding": "gzip"}
        ) as response:
            if response.headers.get("Content-Encoding") != "gzip":
                raise RuntimeError("the replica did not send gzip when asked")
            gzipped = await response.read()
    return identity, gzipped
