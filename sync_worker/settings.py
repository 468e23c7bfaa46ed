"""Settings of the sync worker, read from the environment."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import (
    Field,
    HttpUrl,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode

from common.settings import BaseServiceSettings
from contracts.commands import (
    DEFAULT_SYNC_MAX_RESULTS,
    MAX_SYNC_RESULTS,
    Nationality,
    split_nationalities,
)

_VERSION_SEGMENT: Final = re.compile(r"/\d+(\.\d+)+/?$")


class SyncWorkerSettings(BaseServiceSettings):
    """Everything `python -m sync_worker` reads from the environment."""

    randomuser_url: HttpUrl = Field(
        default=HttpUrl("https://randomuser.me/api/"),
        description="Root of the Randomuser API (the /api/ path, without a version).",
    )
    randomuser_version: Literal["1.4", "1.3", "latest"] = Field(
        default="1.4",
        description=(
            "Generator version requested as /api/<version>/. Pinned so that a new "
            "upstream version cannot silently change the payload shape; 'latest' "
            "requests RANDOMUSER_URL as given."
        ),
    )
    sync_interval_seconds: int = Field(
        default=3600,
        ge=0,
        le=7 * 24 * 3600,
        description="Period of scheduled syncs, aligned to multiples of it; 0 disables.",
    )
    sync_max_results: int = Field(
        default=DEFAULT_SYNC_MAX_RESULTS,
        ge=1,
        le=MAX_SYNC_RESULTS,
        description="Largest sync this worker runs; larger commands fail with a reason.",
    )
    sync_deadline_seconds: PositiveFloat = Field(
        default=1500.0,
        le=1740,
        description=(
            "A sync that has not finished by then fails (SyncFailed); below "
            "RabbitMQ's consumer timeout (30 minutes by default)."
        ),
    )
    sync_results: int = Field(
        default=5000,
        ge=1,
        le=MAX_SYNC_RESULTS,
        description="Users per scheduled sync.",
    )
    sync_nationalities: Annotated[tuple[Nationality, ...] | None, NoDecode] = Field(
        default=None,
        description="Comma-separated nationality codes for scheduled syncs; all when unset.",
    )
    scheduler_lock_retry_seconds: PositiveFloat = Field(
        default=5.0,
        le=300,
        description="How often a worker that is not the scheduler tries to become it.",
    )
    http_timeout_seconds: PositiveFloat = Field(
        default=30.0, le=600, description="Total time allowed for one upstream request."
    )
    fetch_max_attempts: PositiveInt = Field(
        default=4, le=20, description="Upstream requests per page before giving up."
    )
    fetch_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "Base of the exponential backoff between retries, with jitter; "
            "after a 429 the base is 30 times longer."
        ),
    )
    fetch_concurrency: int = Field(
        default=3,
        ge=1,
        le=4,
        description="Upstream pages fetched at once (each within the budget).",
    )
    upstream_users_per_window: PositiveInt = Field(
        default=20_000,
        le=1_000_000,
        description="Client-side budget: users requested per window, at most.",
    )
    upstream_window_seconds: PositiveFloat = Field(
        default=300.0, le=3600, description="Length of the client-side budget window."
    )
    health_host: str = Field(default="127.0.0.1", description="Health server address.")
    health_port: int = Field(
        default=8301, ge=0, le=65535, description="Health server port (0: any free)."
    )

    @field_validator("sync_nationalities", mode="before")
    @classmethod
    def _split_nationalities(cls, value: object) -> object:
        # The environment carries "US,GB"; none given means every nationality.
        if isinstance(value, str):
            return split_nationalities(value) or None
        return value

    @model_validator(mode="after")
    def _largest_sync_fits_its_deadline(self) -> SyncWorkerSettings:
        # Pacing spreads a sync over as many budget windows as it needs; the
        # windows it must wait for have to end before the sync's deadline.
        waits = -(-self.sync_max_results // self.upstream_users_per_window) - 1
        if waits * self.upstream_window_seconds >= self.sync_deadline_seconds:
            msg = (
                f"SYNC_MAX_RESULTS {self.sync_max_results} needs {waits} more "
                f"budget windows of {self.upstream_window_seconds:g}s "
                f"(UPSTREAM_USERS_PER_WINDOW {self.upstream_users_per_window}), "
                f"more than SYNC_DEADLINE_SECONDS {self.sync_deadline_seconds:g}"
            )
            raise ValueError(msg)
        if self.sync_results > self.sync_max_results:
            msg = f"SYNC_RESULTS {self.sync_results} exceeds SYNC_MAX_RESULTS"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _version_not_twice(self) -> SyncWorkerSettings:
        path = self.randomuser_url.path or "/"
        if self.randomuser_version != "latest" and _VERSION_SEGMENT.search(path):
            msg = (
                f"RANDOMUSER_URL already names a version ({path}); set "
                "RANDOMUSER_VERSION=latest or give the /api/ root"
            )
            raise ValueError(msg)
        if self.randomuser_version == "1.3" and self.sync_nationalities:
            # 1.3 lacks these; upstream would silently ignore the whole list.
            missing = set(self.sync_nationalities) & {"IN", "MX", "RS", "UA"}
            if missing:
                msg = (
                    f"SYNC_NATIONALITIES {sorted(missing)} do not exist in version 1.3"
                )
                raise ValueError(msg)
        return self

    @property
    def api_url(self) -> str:
        """The URL requests go to: the API root plus the pinned version."""
        root = str(self.randomuser_url)
        if self.randomuser_version == "latest":
            return root
        return f"{root.rstrip('/')}/{self.randomuser_version}/"
