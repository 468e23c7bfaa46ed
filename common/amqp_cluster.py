"""Connecting to a RabbitMQ cluster: AMQP_URL as a list, and a connection that fails over."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import aio_pika
from aio_pika import RobustConnection
from pydantic import AfterValidator, AmqpDsn, TypeAdapter, ValidationError
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aio_pika.abc import AbstractConnection, AbstractRobustConnection
    from aiormq.abc import FieldTable

logger = logging.getLogger(__name__)

_DSN: TypeAdapter[AmqpDsn] = TypeAdapter(AmqpDsn)

FAILOVER_RECONNECT_SECONDS = 1.0
"""Pause between two connection attempts of a cluster connection: the next
attempt goes to the next node, so there is no reason to wait long."""


def split_urls(value: str) -> tuple[str, ...]:
    """The broker URLs of a comma-separated AMQP_URL, in order, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _check_url_list(value: str) -> str:
    urls = split_urls(value)
    if not urls:
        raise ValueError("no broker URL given")
    for url in urls:
        try:
            _DSN.validate_python(url)
        except ValidationError:
            raise ValueError(
                f"not an amqp:// or amqps:// URL: {URL(url).with_password(None)}"
            ) from None
    return ",".join(urls)


AmqpUrlList = Annotated[str, AfterValidator(_check_url_list)]
"""One broker URL, or several separated by commas (the nodes of one cluster)."""


class ClusterConnection(RobustConnection):
    """A robust connection that tries the cluster's nodes in turn.

    aio-pika's robust connection reconnects to the one URL it was given. This
    one moves to the next URL for every connection attempt, so when its node
    dies it reconnects to another node; the robust channels then re-declare
    their exchanges, queues and bindings and restart their consumers there,
    as they do after any reconnect.
    """

    def __init__(self, urls: Sequence[str], *, first: int = 0, **kwargs: Any) -> None:
        self._urls = tuple(URL(url) for url in urls)
        self._attempt = first
        super().__init__(self._urls[first % len(self._urls)], **kwargs)

    @property
    def urls(self) -> tuple[URL, ...]:
        """Every node's URL, in the order they are tried."""
        return self._urls

    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802
        # Every attempt of the robust connection (first connect and each
        # reconnect) goes through this private method of RobustConnection;
        # choosing the URL here is the one seam aio-pika offers.
        # tests/integration/test_amqp_cluster.py fails should it go away.
        url = self._urls[self._attempt % len(self._urls)]
        self._attempt += 1
        self.url = url
        await super()._RobustConnection__connect_transport()  # type: ignore[misc]


async def connect_robust(
    amqp_url: str, *, name: str, connect_timeout: float
) -> AbstractRobustConnection:
    """One robust connection to the first node of `amqp_url` that answers.

    A single URL gives aio-pika's own robust connection; a list gives a
    `ClusterConnection` that fails over between the nodes.

    Raises:
        The last node's error (OSError, TimeoutError, AMQPError) when none answers.
    """
    urls = split_urls(amqp_url)
    properties: FieldTable = {"connection_name": name}
    if len(urls) == 1:
        return await aio_pika.connect_robust(
            urls[0], client_properties=properties, timeout=connect_timeout
        )
    for first in range(len(urls)):
        connection = ClusterConnection(
            urls,
            first=first,
            client_properties=properties,
            reconnect_interval=FAILOVER_RECONNECT_SECONDS,
        )
        try:
            await connection.connect(timeout=connect_timeout)
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            await connection.close()
            if first == len(urls) - 1:
                raise
            logger.warning("RabbitMQ node %s not reachable: %s", urls[first], exc)
            continue
        return connection
    raise AssertionError("unreachable")  # pragma: no cover


async def connect_once(
    amqp_url: str, *, name: str, connect_timeout: float
) -> AbstractConnection:
    """A plain (not robust) connection to the first node of `amqp_url` that answers.

    Raises:
        The last node's error (OSError, TimeoutError, AMQPError) when none answers.
    """
    *others, last = split_urls(amqp_url)
    for url in others:
        try:
            return await aio_pika.connect(
                url,
                client_properties={"connection_name": name},
                timeout=connect_timeout,
            )
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            logger.warning("RabbitMQ node %s not reachable: %s", URL(url).host, exc)
    return await aio_pika.connect(
        last, client_properties={"connection_name": name}, timeout=connect_timeout
    )


def connected_node(connection: AbstractConnection) -> str:
    """host:port of the node a connection currently uses (for logs and health)."""
    url = connection.url if isinstance(connection, aio_pika.Connection) else None
    return f"{url.host}:{url.port}" if url is not None else "?"
