"""Settings of the query replicas and of the projector, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, MongoDsn, PositiveFloat, PositiveInt

from common.settings import BaseServiceSettings


class MongoSettings(BaseServiceSettings):
    """Where the read model lives; shared by the replicas and the projector."""

    mongo_url: MongoDsn = Field(
        default=MongoDsn("mongodb://127.0.0.1:27017/?directConnection=true"),
        description="MongoDB connection URL of the read model.",
    )
    mongo_database: str = Field(
        default="randomuser",
        pattern=r"^[A-Za-z0-9_\-]{1,63}$",
        description="Database holding the read model's collections.",
    )
    mongo_timeout_seconds: PositiveFloat = Field(
        default=2.0,
        le=60,
        description="Server selection and connect timeout: how soon an outage is seen.",
    )


class QuerySettings(MongoSettings):
    """One HTTP query replica (`python -m query_service`)."""

    http_host: str = Field(default="127.0.0.1", description="Address to listen on.")
    http_port: int = Field(
        default=8101, ge=0, le=65535, description="Port to listen on."
    )
    snapshot_poll_seconds: float = Field(
        default=0.25,
        ge=0,
        le=60,
        description="At most how often a replica re-reads the current-snapshot pointer.",
    )
    cache_max_age_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description=(
            "max-age of snapshot responses; 0 makes browsers and proxies revalidate "
            "every time (cheap: a 304)."
        ),
    )
    status_history: PositiveInt = Field(
        default=20, le=500, description="Sync attempts listed by /queries/sync-status."
    )
    live_notices: bool = Field(
        default=True,
        description=(
            "Follow the projector's notices on the broker (AMQP_URL), so a new "
            "snapshot is served and streamed at once; without them the replica "
            "polls the pointer only."
        ),
    )
    live_max_clients: PositiveInt = Field(
        default=2000,
        le=100_000,
        description="Clients of /queries/events per replica; beyond it, 503.",
    )
    live_client_queue: PositiveInt = Field(
        default=64,
        le=10_000,
        description="Events queued for one client before it is cut off.",
    )
    live_heartbeat_seconds: PositiveFloat = Field(
        default=15.0,
        le=300,
        description="Idle time after which /queries/events sends a comment line.",
    )
    live_retry_ms: PositiveInt = Field(
        default=2000,
        le=600_000,
        description="The reconnect delay /queries/events suggests to clients.",
    )


class ProjectorSettings(MongoSettings):
    """The projector (`python -m query_service.projector`), the read model's only writer."""

    health_host: str = Field(default="127.0.0.1", description="Address of /healthz.")
    health_port: int = Field(
        default=8201, ge=0, le=65535, description="Port of /healthz and /readyz."
    )
    snapshots_kept: PositiveInt = Field(
        default=48,
        le=1000,
        description=(
            "Promoted snapshots kept (the current one included), the history"
            " /queries/snapshots serves; older ones are deleted."
        ),
    )
    stale_sync_seconds: PositiveFloat = Field(
        default=3600.0,
        le=7 * 24 * 3600,
        description=(
            "A sync still incomplete this long after its first event is abandoned "
            "and its staged data deleted."
        ),
    )
    sync_retention_days: PositiveFloat = Field(
        default=30.0,
        le=3650,
        description=(
            "Records of finished syncs older than this are deleted (the newest "
            "promoted one is kept), so months of hourly syncs stay bounded."
        ),
    )
    gzip_level: int = Field(
        default=6,
        ge=1,
        le=9,
        # Measured on 20,000 users: level 9 took 75 ms against 25 ms and
        # was no smaller.
        description="Compression level of the precomputed gzip body (paid once per snapshot).",
    )
    snapshot_files_dir: Path | None = Field(
        default=None,
        description=(
            "Where the projector publishes the current snapshot as files for "
            "nginx (a volume the gateway mounts); unset: only the replicas serve it."
        ),
    )
