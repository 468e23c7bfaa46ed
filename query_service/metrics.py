"""Prometheus metrics of the projector (events, users, promotions, lag) and of the
replicas' live streams (clients, events, cut-off clients)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from datetime import datetime

    from contracts.codec import AnyMessage

EVENTS_PROJECTED: Final = Counter(
    "randomuser_events_projected",
    "Events the projector handled and acknowledged, by type.",
    ["type"],
)
USERS_PROJECTED: Final = Counter(
    "randomuser_users_projected",
    "Users written to the read model from users.fetched batches (a batch counts once).",
)
SNAPSHOT_PROMOTIONS: Final = Counter(
    "randomuser_snapshot_promotions",
    "Complete syncs, by outcome: promoted (now current) or superseded (a newer "
    "snapshot was current already).",
    ["outcome"],
)
SNAPSHOT_USERS: Final = Gauge(
    "randomuser_snapshot_users",
    "Users in the snapshot this projector promoted last.",
)
PROJECTION_LAG: Final = Histogram(
    "randomuser_projection_lag_seconds",
    "From an event's occurred_at (set by the sync worker) to the end of its "
    "projection, by type.",
    ["type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)

LIVE_CLIENTS: Final = Gauge(
    "randomuser_live_clients",
    "Clients this replica streams /queries/events to.",
)
LIVE_EVENTS: Final = Counter(
    "randomuser_live_events",
    "Events this replica added to its stream (each sent to every client).",
)
LIVE_DROPPED: Final = Counter(
    "randomuser_live_clients_dropped",
    "Streams cut off because their client fell a whole queue behind.",
)


def record_projected(message: AnyMessage, now: datetime) -> None:
    """Count one projected event and how long after it occurred that finished."""
    EVENTS_PROJECTED.labels(message.message_type).inc()
    lag = (now - message.occurred_at).total_seconds()
    PROJECTION_LAG.labels(message.message_type).observe(max(lag, 0.0))


def record_promotion(outcome: Literal["promoted", "superseded"]) -> None:
    """Count a complete sync by what became of it."""
    SNAPSHOT_PROMOTIONS.labels(outcome).inc()
