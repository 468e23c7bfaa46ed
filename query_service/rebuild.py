"""`randomuser-rebuild`: replay the event log into a fresh read model, verify
it, and (with `--switch`) move every reader to it while live syncs go on.

The rebuild writes only to its own database (`--database`), through the same
projection code the projector runs, fed from the event log stream instead of
the projector's queue. It reads the log from its first kept message (or from
`--since`) to where it ended when the rebuild began (a marker the rebuild
writes there), then compares every snapshot both databases keep: counts and each precomputed body, byte for byte.
Replaying the same events gives the same bytes, so any difference is a
finding: a projector bug fixed since (the reason to rebuild), or events the
log no longer keeps.

`--switch` then moves readers and the projector with the alias document
(`mongo_alias.py`): announce the switch (the projector finishes the message
in hand and waits), write a marker into the log, replay what was logged
before the marker (the events the projector took into the old database since
the first pass ended), and complete the switch. The projector goes on in the
new database with its next message; replicas follow at their next pointer
read. A switch whose lease (`--lease`) ran out first is called off, and the
live read model stays as it was. docs/ARCHITECTURE.md ("History, the event
log and rebuilds") tells the whole design.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from common.amqp_cluster import connect_once
from common.event_log import add_rebuild_arguments
from common.logs import configure_logging
from common.settings import load_settings
from contracts.base import utc_now
from contracts.topology import Topology
from query_service.notices import ReadModelChanged, announce, declare_notices
from query_service.projection import ProjectionConfig, projection_handler
from query_service.read_model import MongoReadModel
from query_service.rebuild_verify import Verified, lacking, verify
from query_service.replay import Replayed, replay_to_marker
from query_service.settings import ProjectorSettings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aio_pika.abc import AbstractConnection

    from common.consuming import Handler

logger = logging.getLogger(__name__)

SWITCH_LEASE_SECONDS: Final = 30.0
MOVED: Final = "read_model.moved"
"""The cause of the notice sent once readers were moved."""


class RebuildRefused(Exception):
    """The rebuild would overwrite something: nothing was written."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line of `randomuser-rebuild`."""
    parser = argparse.ArgumentParser(
        prog="randomuser-rebuild",
        description="Replay the event log into a fresh read model database,"
        " verify it against the one in use, and with --switch move the replicas"
        " and the projector to it. Settings come from the projector's"
        " environment (MONGO_URL, MONGO_DATABASE, AMQP_URL, ...).",
    )
    add_rebuild_arguments(parser, lease_default=SWITCH_LEASE_SECONDS)
    return parser.parse_args(argv)


@dataclass
class Rebuilt:
    """The outcome of a rebuild."""

    database: str
    source: str
    replayed: Replayed
    verified: Verified
    switched: bool = False
    switch_problem: str | None = None
    pause_seconds: float | None = None
    """How long the live projection waited for the switch."""


async def rebuild(
    settings: ProjectorSettings,
    database: str,
    *,
    since: datetime | None = None,
    switch: bool = False,
    lease: float = SWITCH_LEASE_SECONDS,
) -> Rebuilt:
    """Replay into `database` (which must be empty), verify it against the read
    model in use, and with `switch` move everyone to it.

    Raises:
        RebuildRefused: `database` is the one in use, or not empty.
    """
    connection = await connect_once(
        str(settings.amqp_url), name="rebuild", connect_timeout=10
    )
    url = str(settings.mongo_url)
    timeout = settings.mongo_timeout_seconds
    topology = Topology(settings.amqp_namespace)
    try:
        async with (
            MongoReadModel.open(
                url, settings.mongo_database, server_timeout=timeout, app_name="rebuild"
            ) as source,
            MongoReadModel.open(
                url, database, server_timeout=timeout, app_name="rebuild"
            ) as target,
        ):
            current = await source.follow_alias()
            if database == current:
                raise RebuildRefused(f"{database} is the read model in use")
            if (
                await target.pointer() is not None
                or (await target.sync_status(recent=1)).recent
            ):
                raise RebuildRefused(f"database {database} is not empty")
            await target.prepare()
            config = ProjectionConfig(
                snapshots_kept=settings.snapshots_kept,
                # Old syncs replay now: nothing is abandoned or pruned for its age.
                stale_after=timedelta(days=3650),
                sync_retention=timedelta(days=3650),
                gzip_level=settings.gzip_level,
            )
            handle = projection_handler(target, config)
            replayed = await replay_to_marker(
                connection, topology, handle, Replayed(), since=since
            )
            outcome = Rebuilt(database, current, replayed, await verify(source, target))
            if switch and not outcome.verified.mismatches:
                outcome.switch_problem = await _switch(
                    connection,
                    topology,
                    (source, target),
                    outcome,
                    handle,
                    since=since,
                    lease=lease,
                )
                outcome.switched = outcome.switch_problem is None
    finally:
        await connection.close()
    return outcome


async def _switch(
    connection: AbstractConnection,
    topology: Topology,
    models: tuple[MongoReadModel, MongoReadModel],
    outcome: Rebuilt,
    handle: Handler,
    *,
    since: datetime | None,
    lease: float,
) -> str | None:
    """Move the alias from `outcome.source` to `outcome.database`, catching up
    on what the projector took meanwhile; None when done, else why not."""
    source, target = models
    alias = source.alias
    now = utc_now()
    began = time.monotonic()
    if not await alias.begin_switch(
        outcome.source,
        outcome.database,
        now=now,
        until=now + timedelta(seconds=lease),
    ):
        return "the alias moved or another switch is under way"
    done = False
    try:
        # Everything the projector took into the old database was logged
        # before this second marker: it holds from the announcement on.
        await replay_to_marker(
            connection, topology, handle, outcome.replayed, since=since
        )
        # The live projection is paused: the rebuild must now hold what
        # readers may be served, or the switch would take history away.
        if missing := await lacking(source, target):
            return (
                f"the rebuild lacks {len(missing)} snapshots the read model in use"
                f" keeps ({', '.join(missing[:3])}...): does the log still hold"
                " their events?"
            )
        done = await alias.complete_switch(
            outcome.source, outcome.database, now=utc_now()
        )
        outcome.pause_seconds = time.monotonic() - began
    finally:
        if not done:
            await alias.abandon_switch(outcome.database)
            # A completion whose answer was lost did happen.
            done = (await alias.read()).database == outcome.database
    if not done:
        return f"the switch took longer than its lease ({lease:g}s)"
    logger.info("readers moved from %s to %s", outcome.source, outcome.database)
    # Replicas follow at their next pointer read; a notice makes that now.
    await announce(
        await declare_notices(await connection.channel(), topology),
        ReadModelChanged(sync_id="", cause=MOVED),
    )
    return None


def report(outcome: Rebuilt) -> str:
    """What the command prints."""
    replayed, verified = outcome.replayed, outcome.verified
    lines = [
        f"replayed {replayed.events:,} events ({replayed.commands:,} commands skipped)"
        f" into {outcome.database}",
        f"compared {len(verified.compared):,} snapshots kept by both it and"
        f" {outcome.source}: {len(verified.mismatches):,} differences",
    ]
    if verified.only_rebuilt:
        lines.append(
            f"{len(verified.only_rebuilt):,} snapshots only in the rebuild"
            f" (not in {outcome.source})"
        )
    lines += [f"unreadable: {problem}" for problem in replayed.unreadable]
    lines += [f"differs: {problem}" for problem in verified.mismatches]
    if outcome.switched:
        lines.append(
            f"readers now use {outcome.database} (was {outcome.source});"
            f" the live projection waited {(outcome.pause_seconds or 0) * 1000:.0f} ms"
        )
    elif outcome.switch_problem is not None:
        lines.append(f"not switched: {outcome.switch_problem}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `randomuser-rebuild`: 0 when every snapshot both keep is
    identical (and, with --switch, readers moved), else 1; 2 when refused.
    Unreadable messages are reported (live, they were dead-lettered too)
    without failing the rebuild."""
    settings = load_settings(ProjectorSettings)
    configure_logging("rebuild", settings.log_level, settings.log_format)
    args = parse_args(argv)
    try:
        outcome = asyncio.run(
            rebuild(
                settings,
                args.database,
                since=args.since,
                switch=args.switch,
                lease=args.lease,
            )
        )
    except RebuildRefused as exc:
        print(f"randomuser-rebuild: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(report(outcome))  # noqa: T201
    failed = outcome.verified.mismatches or (args.switch and not outcome.switched)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
