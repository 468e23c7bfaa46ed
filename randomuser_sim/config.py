"""The simulator's settings: rate limit, window, added latency, compression."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field


class SimConfig(BaseModel):
    """How the simulated service behaves apart from injected faults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_limit_users: int = Field(
        default=20_000,
        ge=0,
        description="Users one client IP may request per window; 0 disables the limit.",
    )
    rate_window_seconds: float = Field(
        default=300.0, gt=0, description="Every counter resets after this long."
    )
    latency_ms: int = Field(
        default=0, ge=0, le=600_000, description="Delay added to every API response."
    )
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="This process's id in /_sim/healthz: a uuid4 unless given.",
    )
    gzip: bool = Field(
        default=False,
        description=(
            "Gzip bodies of 1 kB or more when the client accepts it, as production "
            "does. Off by default: it adds ~50 ms to a 5,000-user answer."
        ),
    )
