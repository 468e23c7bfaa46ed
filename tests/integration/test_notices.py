"""The projector's notices on a real broker: announced after each handled
event, heard by every replica's listener, and heard again after its link is
cut (a new queue on a new connection)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import aio_pika

from common.amqp_cluster import connect_once
from contracts.events import SyncFailed
from query_service.notices import NoticeListener, announcing, declare_notices
from tests.e2e.test_faults_support import local_broker
from tests.support.broker import delete_topology
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from contracts.codec import AnyMessage
    from contracts.topology import Topology


@contextlib.asynccontextmanager
async def listening(
    amqp_url: str, topology: Topology, name: str
) -> AsyncIterator[tuple[list[str], list[int]]]:
    heard: list[str] = []
    links: list[int] = []

    async def on_notice(sync_id: str) -> None:
        heard.append(sync_id)

    async def on_link() -> None:
        links.append(len(links) + 1)

    stop = asyncio.Event()
    listener = NoticeListener(amqp_url, topology, name, on_notice, on_link)
    task = asyncio.create_task(listener.run(stop))
    try:
        yield heard, links
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_every_listener_hears_what_the_projector_handled(
    amqp_url: str, topology: Topology
) -> None:
    handled: list[AnyMessage] = []

    async def handler(message: AnyMessage) -> None:
        handled.append(message)

    connection = await connect_once(amqp_url, name="test-notices", connect_timeout=10)
    try:
        async with (
            listening(amqp_url, topology, "one") as (one, one_links),
            listening(amqp_url, topology, "two") as (two, _),
        ):
            await eventually(lambda: _true(len(one_links) == 1), what="linked")
            channel = await connection.channel()
            exchange = await declare_notices(channel, topology)
            handle = announcing(handler, exchange)
            event = SyncFailed(sync_id="s-notice", reason="boom", attempts=1)

            # Both listeners may still be declaring their queues: announce
            # until both hear it, as the projector does with every event.
            async def both_heard() -> bool:
                await handle(event)
                return "s-notice" in one and "s-notice" in two

            await eventually(both_heard, interval=0.1, what="both listeners heard")
            assert handled[0] == event
    finally:
        await connection.close()
        await delete_topology(amqp_url, topology)


async def test_a_listener_whose_link_is_cut_links_again_and_hears_on(
    amqp_url: str, topology: Topology
) -> None:
    local_broker(amqp_url)  # the cut is made with rabbitmqctl
    connection = await connect_once(amqp_url, name="test-notices", connect_timeout=10)
    try:
        channel = await connection.channel()
        exchange = await declare_notices(channel, topology)
        async with listening(amqp_url, topology, "cut") as (heard, links):
            await eventually(lambda: _true(links == [1]), what="first link")
            # Close the listener's connection from the broker's side.
            await _close_connections_named(amqp_url, "cut")
            await eventually(lambda: _true(links == [1, 2]), timeout=15, what="relink")

            async def heard_after() -> bool:
                await exchange.publish(
                    aio_pika.Message(b'{"sync_id": "after", "cause": "x"}'),
                    routing_key="",
                )
                return "after" in heard

            await eventually(heard_after, interval=0.1, what="heard after relink")
    finally:
        await connection.close()
        await delete_topology(amqp_url, topology)


async def _true(value: bool) -> bool:
    return value


async def _close_connections_named(amqp_url: str, name: str) -> None:
    """rabbitmqctl close_connection for the connections whose name is `name`."""
    listed = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "list_connections", "pid", "client_properties", "-q",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await listed.communicate()
    for line in out.decode().splitlines():
        if f'"connection_name","{name}"' in line or f'<<"{name}">>' in line:
            pid = line.split("\t", 1)[0]
            closing = await asyncio.create_subprocess_exec(
                "rabbitmqctl", "close_connection", pid, "test: cut the link", "-q"
            )  # fmt: skip
            await closing.wait()
