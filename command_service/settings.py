"""Settings of the command service, read from the environment."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, SecretStr, field_validator, model_validator

from common.settings import BaseServiceSettings
from contracts.commands import DEFAULT_SYNC_MAX_RESULTS, MAX_SYNC_RESULTS


class CommandSettings(BaseServiceSettings):
    """Environment of `python -m command_service`."""

    http_host: str = Field(default="127.0.0.1", description="Address to bind.")
    http_port: int = Field(default=8001, ge=1, le=65535, description="Port to bind.")
    command_token: SecretStr | None = Field(
        default=None,
        description="When set, POST /commands/* needs `Authorization: Bearer <token>`.",
    )
    sync_max_results: int = Field(
        default=DEFAULT_SYNC_MAX_RESULTS,
        ge=1,
        le=MAX_SYNC_RESULTS,
        description="Largest `results` POST /commands/sync accepts (422 above).",
    )
    default_sync_results: int = Field(
        default=5000,
        ge=1,
        le=MAX_SYNC_RESULTS,
        description="Users per sync by default.",
    )
    max_body_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, description="Largest request body."
    )
    publish_timeout_seconds: PositiveFloat = Field(
        default=5.0, le=60, description="How long to wait for the broker's confirm."
    )
    idempotency_window_seconds: PositiveFloat = Field(
        default=86_400,
        le=7 * 86_400,
        description="How long an Idempotency-Key answers with its first command.",
    )
    idempotency_keys_kept: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Most Idempotency-Keys remembered (the oldest are forgotten first).",
    )

    @model_validator(mode="after")
    def _default_within_max(self) -> CommandSettings:
        if self.default_sync_results > self.sync_max_results:
            msg = "DEFAULT_SYNC_RESULTS exceeds SYNC_MAX_RESULTS"
            raise ValueError(msg)
        return self

    @field_validator("command_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(
                "must be at least 16 characters (or unset to disable auth)"
            )
        return value
