"""The tables of `bench.sync`: each size's timeline, and where the time goes."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from bench.report import table

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from bench.stack import BenchStack
    from bench.syncs import SyncRun


def _median(runs: Sequence[SyncRun], value: Callable[[SyncRun], float | None]) -> str:
    values = [v for run in runs if (v := value(run)) is not None]
    return f"{statistics.median(values) * 1000:,.0f}" if values else "—"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _publish_rate(runs: Sequence[SyncRun]) -> str:
    """Events per second and MB/s between the first batch and sync.completed
    arriving at a consumer of the events exchange (median run)."""
    spans = sorted(
        (
            (r.completed_event - r.first_batch, r)
            for r in runs
            if r.completed_event is not None and r.first_batch is not None
        ),
        key=lambda pair: pair[0],
    )
    if not spans:
        return "—"
    span, run = spans[len(spans) // 2]
    span = max(span, 1e-3)
    # The first batch arrives at the start of the span: not counted.
    later = run.messages - 1
    later_bytes = run.message_bytes * later / max(run.messages, 1)
    return f"{later / span:,.0f} msg/s, ~{later_bytes / 1e6 / span:,.0f} MB/s"


def timeline_table(results: dict[int, list[SyncRun]]) -> str:
    """Median timeline per sync size, in ms after the POST."""
    rows = []
    for users, runs in results.items():
        lag = [
            r.visible - r.completed_event for r in runs if r.completed_event is not None
        ]
        rows.append(
            [
                f"{users:,}",
                _median(runs, lambda r: r.accepted),
                _median(runs, lambda r: r.first_batch),
                _median(runs, lambda r: r.completed_event),
                _median(runs, lambda r: r.visible),
                " / ".join(ms(r.visible) for r in runs),
                _median(runs, lambda r: r.nginx_revalidating),
                _median(runs, lambda r: r.nginx_plain),
                f"{statistics.median(lag) * 1000:,.0f}" if lag else "—",
                f"{runs[0].messages} / {runs[0].message_bytes / 1e6:.2f} MB",
                _publish_rate(runs),
            ]
        )
    return table(
        [
            "users",
            "202 accepted",
            "1st batch published",
            "sync.completed published",
            "**served by every replica**",
            "(each run)",
            "nginx, revalidating client",
            "nginx, plain client",
            "projection lag",
            "events / bytes",
            "publish rate (1st batch → sync.completed)",
        ],
        rows,
    )


def _log_times(path: Path, correlation_id: str) -> dict[str, float]:
    """Epoch seconds of the log lines of one sync, by what they say."""
    marks: dict[str, float] = {}
    for line in path.read_text().splitlines():
        if correlation_id not in line:
            continue
        try:
            entry: dict[str, Any] = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if entry.get("correlation_id") != correlation_id:
            continue
        at = datetime.fromisoformat(entry["time"]).timestamp()
        message = str(entry.get("message", ""))
        for mark in (
            "started",
            "fetched page",
            "completed",
            "projected users.fetched",
            "promoted snapshot",
        ):
            if mark in message:
                marks[mark] = at
    return marks


def breakdown_table(bench: BenchStack, results: dict[int, list[SyncRun]]) -> str:
    """Where the time of the last run of each size went, from the logs (ms)."""
    logs = bench.config.run_dir / "logs"
    rows = []
    for users, runs in results.items():
        run = runs[-1]
        worker = _log_times(logs / "sync-worker.log", run.correlation_id)
        projector = _log_times(logs / "projector.log", run.correlation_id)
        if {"started", "fetched page", "completed"} - set(worker) or {
            "projected users.fetched",
            "promoted snapshot",
        } - set(projector):
            continue
        staged = max(projector["projected users.fetched"], worker["completed"])
        rows.append(
            [
                f"{users:,}",
                ms(worker["started"] - run.started_at),
                ms(worker["fetched page"] - worker["started"]),
                ms(worker["completed"] - worker["fetched page"]),
                ms(staged - worker["completed"]),
                ms(projector["promoted snapshot"] - staged),
                ms(run.started_at + run.visible - projector["promoted snapshot"]),
            ]
        )
    return table(
        [
            "users",
            "POST → worker starts",
            "fetch (→ last page)",
            "validate + publish",
            "projector still staging after the last publish",
            "promote (read staged, build, write, move pointer)",
            "promoted → every replica serves it",
        ],
        rows,
    )


def cpu_table(cpu: dict[int, dict[str, float]]) -> str:
    """CPU milliseconds per sync, a column per process, a row per size."""
    names = sorted({name for used in cpu.values() for name in used})
    rows = [
        [
            f"{users:,}",
            *(f"{used.get(name, 0.0) * 1000:,.0f}" for name in names),
            f"**{sum(used.values()) * 1000:,.0f}**",
        ]
        for users, used in sorted(cpu.items())
    ]
    return table(["users", *names, "total"], rows)
