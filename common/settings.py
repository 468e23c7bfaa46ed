"""Base settings read from the environment, and the one way to load them."""

from __future__ import annotations

import sys
import uuid
from typing import Literal, TypeVar

from pydantic import Field, PositiveFloat, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.amqp_cluster import AmqpUrlList

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class BaseServiceSettings(BaseSettings):
    """Settings every process shares. Environment names are the UPPER field names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", frozen=True
    )

    amqp_url: AmqpUrlList = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ connection URL, or the URLs of a cluster's nodes"
        " separated by commas (the connection moves to another node when one dies).",
    )
    amqp_namespace: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_\-]*$",
        description="Prefix for exchange and queue names (isolates tests and tenants).",
    )
    amqp_prefetch_count: PositiveInt = Field(
        default=16, le=1000, description="Unacknowledged messages per consumer."
    )
    amqp_delivery_limit: PositiveInt = Field(
        default=5,
        le=100,
        description="Deliveries of one message before it is dead-lettered.",
    )
    event_log_max_age: str = Field(
        default="7D",
        pattern=r"^[0-9]{1,6}(Y|M|D|h|m|s)$",
        description="How long the event log stream keeps messages (RabbitMQ's"
        " x-max-age: 7D, 12h, ...). The sync worker and the projector both declare"
        " the stream: give them the same value.",
    )
    event_log_max_bytes: PositiveInt = Field(
        default=2_000_000_000,
        ge=10_000_000,
        description="The most the event log stream keeps on disk, in bytes"
        " (x-max-length-bytes); the oldest segments go first.",
    )
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "text"] = "json"
    startup_timeout_seconds: PositiveFloat = Field(
        default=60.0, le=3600, description="How long to retry the first connections."
    )
    shutdown_timeout_seconds: PositiveFloat = Field(
        default=10.0, le=600, description="How long in-flight work may finish on stop."
    )
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        pattern=r"^[A-Za-z0-9_\-]{1,64}$",
        description=(
            "This process's id in its /healthz and /readyz bodies: a new uuid4 per"
            " process unless set (the local stack sets it to check who answers a port)."
        ),
    )


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT]) -> SettingsT:
    """Build settings from the environment, or exit 2 naming every bad variable."""
    try:
        return cls()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            sys.stderr.write(f"configuration error: {name}: {error['msg']}\n")
        raise SystemExit(2) from None
