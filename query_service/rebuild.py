"""`randomuser-rebuild`: replay the event log into a fresh read model, then verify it.

The live projector goes on projecting into MONGO_DATABASE meanwhile: the
rebuild writes only to its own database (`--database`), through the same
projection code the projector runs, fed from the event log stream instead of
the projector's queue. It reads the log from its first kept message (or from
`--since`) to the end (no message for a second), then compares every snapshot
both databases keep: counts and each precomputed body, byte for byte. Replaying
the same events gives the same bytes, so any difference is a finding: a
projector bug fixed since (the reason to rebuild), or events the log no longer
keeps.

Switching readers is a configuration change (docs/OPERATIONS.md): with the
projector stopped during the rebuild (its durable queue keeps what arrives),
point MONGO_DATABASE of the projector and the replicas at the rebuilt
database and restart them. docs/ARCHITECTURE.md ("History, the event log and
rebuilds") says why the switch is not automatic yet.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from common.amqp_cluster import connect_once
from common.consuming import PoisonMessage
from common.event_log import read_event_log, since_argument
from common.logs import configure_logging
from common.settings import load_settings
from contracts.commands import SyncRequested
from contracts.topology import Topology
from query_service.projection import ProjectionConfig, projection_handler
from query_service.read_model import MongoReadModel
from query_service.settings import ProjectorSettings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aio_pika.abc import AbstractConnection

    from query_service.ports import ReadModel, ReadModelReader
    from query_service.records import Snapshot, SnapshotMeta

logger = logging.getLogger(__name__)

PAGE: Final = 100


@dataclass
class Replayed:
    """What a replay read from the log."""

    events: int = 0
    commands: int = 0
    unreadable: list[str] = field(default_factory=list)


@dataclass
class Verified:
    """What a verification compared."""

    compared: list[str] = field(default_factory=list)
    only_rebuilt: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


async def replay(
    connection: AbstractConnection,
    topology: Topology,
    target: ReadModel,
    config: ProjectionConfig,
    *,
    since: datetime | None = None,
    idle_seconds: float = 1.0,
) -> Replayed:
    """Project every event of the log (from `since`) into `target`, in order."""
    handle = projection_handler(target, config)
    replayed = Replayed()
    async for entry in read_event_log(
        connection, topology, since=since, idle_seconds=idle_seconds
    ):
        match entry.message:
            case None:
                replayed.unreadable.append(f"offset {entry.offset}: {entry.error}")
            case SyncRequested():
                replayed.commands += 1
            case event:
                try:
                    await handle(event)
                except PoisonMessage as exc:
                    # Live, the projector dead-lettered it too.
                    replayed.unreadable.append(f"offset {entry.offset}: {exc}")
                else:
                    replayed.events += 1
    return replayed


async def kept(read_model: ReadModelReader) -> list[SnapshotMeta]:
    """Every snapshot `read_model` keeps, newest first."""
    metas: list[SnapshotMeta] = []
    while True:
        page, total = await read_model.snapshots(skip=len(metas), limit=PAGE)
        metas += page
        if not page or len(metas) >= total:
            return metas


async def verify(source: ReadModelReader, rebuilt: ReadModelReader) -> Verified:
    """Compare each snapshot both keep: metadata and every body, byte for byte."""
    verified = Verified()
    for meta in await kept(rebuilt):
        theirs = await source.snapshot(meta.id)
        if theirs is None:
            verified.only_rebuilt.append(meta.id)
            continue
        ours = await rebuilt.snapshot(meta.id)
        if ours is None:
            verified.mismatches.append(f"{meta.id}: deleted while compared")
            continue
        verified.compared.append(meta.id)
        verified.mismatches += _differences(theirs, ours)
    return verified


def _differences(source: Snapshot, rebuilt: Snapshot) -> list[str]:
    found = []
    if source.meta != rebuilt.meta:
        found.append(f"{source.meta.id}: {source.meta} != {rebuilt.meta}")
    for name, before, after in (
        ("countries_json", source.countries_json, rebuilt.countries_json),
        ("names_json", source.names_json, rebuilt.names_json),
    ):
        if before != after:
            found.append(f"{source.meta.id}: {name} differs")
    return found


def parse_args(argv: Sequence[str] | None, current: str) -> argparse.Namespace:
    """The command line of `randomuser-rebuild`."""
    parser = argparse.ArgumentParser(
        prog="randomuser-rebuild",
        description="Replay the event log into a fresh read model database and"
        " verify it against the current one (MONGO_DATABASE). Settings come from"
        " the projector's environment.",
    )
    parser.add_argument(
        "--database", required=True, help="the database to rebuild into (new, empty)"
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--since", type=since_argument, help="replay from about this time"
    )
    when.add_argument(
        "--all", action="store_true", help="replay all the log keeps (the default)"
    )
    args = parser.parse_args(argv)
    if args.database == current:
        parser.error(f"--database must not be the current one ({current})")
    return args


async def rebuild(
    settings: ProjectorSettings, database: str, *, since: datetime | None = None
) -> tuple[Replayed, Verified]:
    """Replay into `database` (which must be empty), then verify it."""
    connection = await connect_once(
        str(settings.amqp_url), name="rebuild", connect_timeout=10
    )
    url = str(settings.mongo_url)
    timeout = settings.mongo_timeout_seconds
    try:
        async with (
            MongoReadModel.open(
                url, database, server_timeout=timeout, app_name="rebuild"
            ) as target,
            MongoReadModel.open(
                url, settings.mongo_database, server_timeout=timeout, app_name="rebuild"
            ) as source,
        ):
            if await target.pointer() is not None:
                raise SystemExit(
                    f"database {database} is not empty: rebuild into a new one"
                )
            await target.prepare()
            config = ProjectionConfig(
                snapshots_kept=settings.snapshots_kept,
                # Old syncs replay now: nothing is abandoned or pruned for its age.
                stale_after=timedelta(days=3650),
                sync_retention=timedelta(days=3650),
                gzip_level=settings.gzip_level,
            )
            topology = Topology(settings.amqp_namespace)
            replayed = await replay(connection, topology, target, config, since=since)
            verified = await verify(source, target)
    finally:
        await connection.close()
    return replayed, verified


def report(database: str, replayed: Replayed, verified: Verified) -> str:
    """What the command prints."""
    lines = [
        f"replayed {replayed.events:,} events ({replayed.commands:,} commands skipped)"
        f" into {database}",
        f"compared {len(verified.compared):,} snapshots kept by both:"
        f" {len(verified.mismatches):,} differences",
    ]
    if verified.only_rebuilt:
        lines.append(
            f"{len(verified.only_rebuilt):,} snapshots only in the rebuild"
            " (deleted from the current read model)"
        )
    lines += [f"unreadable: {problem}" for problem in replayed.unreadable]
    lines += [f"differs: {problem}" for problem in verified.mismatches]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `randomuser-rebuild`: 0 when every snapshot both keep is
    identical, else 1. Unreadable messages are reported (live, they were
    dead-lettered too) without failing the rebuild."""
    settings = load_settings(ProjectorSettings)
    configure_logging("rebuild", settings.log_level, settings.log_format)
    args = parse_args(argv, settings.mongo_database)
    replayed, verified = asyncio.run(rebuild(settings, args.database, since=args.since))
    print(report(args.database, replayed, verified))  # noqa: T201
    return 1 if verified.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
