"""A cluster connection moves to another node when its node dies, and its consumer follows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aio_pika

from common.amqp import connect
from common.amqp_cluster import ClusterConnection, connect_once
from tests.support.cluster import ClusterControl, cluster_url
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from devstack.rabbit_cluster import RabbitCluster


async def test_a_cluster_connection_fails_over_and_keeps_its_consumer(
    rabbit_cluster: RabbitCluster, namespace: str
) -> None:
    control = ClusterControl(rabbit_cluster)
    queue_name = f"{namespace}.failover"
    got: list[str] = []
    connection = await connect(
        cluster_url(rabbit_cluster), name=f"{namespace}-consumer", within=30
    )
    try:
        assert isinstance(connection, ClusterConnection)
        channel = await connection.channel()
        queue = await channel.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                got.append(message.body.decode())

        await queue.consume(on_message)
        first = await control.connections()
        [node_before] = first[f"{namespace}-consumer"]
        await control.kill(rabbit_cluster.node(node_before))

        async def moved() -> str:
            nodes = (await control.connections()).get(f"{namespace}-consumer", [])
            assert len(nodes) == 1, nodes
            assert nodes[0] != node_before, nodes
            return nodes[0]

        await eventually(moved, timeout=10, interval=0.2, what="consumer moved")
        publisher = await connect_once(
            cluster_url(rabbit_cluster), name=f"{namespace}-pub", connect_timeout=10
        )
        async with publisher:
            pub_channel = await publisher.channel(publisher_confirms=True)
            for index in range(100):
                await pub_channel.default_exchange.publish(
                    aio_pika.Message(str(index).encode()),
                    routing_key=queue_name,
                    mandatory=True,
                )

        async def all_received() -> bool:
            assert len(got) >= 100, len(got)
            return True

        await eventually(all_received, timeout=15, what="100 messages consumed")
        assert sorted(got, key=int) == [str(i) for i in range(100)]
        await channel.queue_delete(queue_name, if_unused=False, if_empty=False)
    finally:
        await connection.close()
        await control.revive()
