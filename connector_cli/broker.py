"""The CLI's connection to RabbitMQ, shared by `dlq` and `events`."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import aio_pika

from common.amqp_cluster import connect_once

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractConnection

    from connector_cli.settings import CliSettings


class BrokerError(Exception):
    """RabbitMQ could not be reached or read; `str()` says why."""


@contextlib.asynccontextmanager
async def connection(settings: CliSettings) -> AsyncIterator[AbstractConnection]:
    """A connection to the first node of AMQP_URL that answers, closed after use."""
    try:
        opened = await connect_once(
            settings.amqp_url,
            name="randomuser-connector cli",
            connect_timeout=settings.connector_timeout_seconds,
        )
    except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
        raise BrokerError(f"cannot connect to RabbitMQ: {exc!r}") from None
    async with opened:
        yield opened
