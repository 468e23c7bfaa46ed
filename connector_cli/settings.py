"""Settings of the operator CLI, read from the environment like every process's."""

from __future__ import annotations

from pydantic import Field, HttpUrl, PositiveFloat, SecretStr

from common.settings import BaseServiceSettings
from contracts.commands import DEFAULT_SYNC_MAX_RESULTS, MAX_SYNC_RESULTS


class CliSettings(BaseServiceSettings):
    """Environment of `randomuser-connector` (AMQP_URL, AMQP_NAMESPACE for `dlq`)."""

    connector_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:8080"),
        description="Origin of the connector's HTTP API (nginx).",
    )
    command_token: SecretStr | None = Field(
        default=None, description="Bearer token of POST /commands/sync."
    )
    sync_max_results: int = Field(
        default=DEFAULT_SYNC_MAX_RESULTS,
        ge=1,
        le=MAX_SYNC_RESULTS,
        description="Largest --results `sync` sends (as the command service allows).",
    )
    connector_timeout_seconds: PositiveFloat = Field(
        default=15.0,
        le=300,
        description="Timeout of one request to the API or to RabbitMQ.",
    )

    @property
    def base_url(self) -> str:
        """The connector's origin without a trailing slash."""
        return str(self.connector_url).rstrip("/")
