"""Argument parsing and dispatch of `randomuser-connector` (python -m connector_cli)."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from typing import TYPE_CHECKING, Final

import orjson

from common.event_log import add_rebuild_arguments, since_argument
from common.settings import load_settings
from connector_cli import api, broker, dlq, events
from connector_cli.settings import CliSettings
from contracts.commands import MAX_SYNC_RESULTS, NATIONALITIES, split_nationalities

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2

ENVIRONMENT: Final = """\
environment:
  CONNECTOR_URL   origin of the HTTP API (default http://127.0.0.1:8080)
  COMMAND_TOKEN   bearer token for `sync`
  AMQP_URL        RabbitMQ, for `dlq` and `events` (default amqp://guest:guest@127.0.0.1:5672/)
  AMQP_NAMESPACE  prefix of the queue names, as the services use it
  MONGO_URL, MONGO_DATABASE  the read model, for `rebuild`
"""


def results(value: str) -> int:
    """`--results`: 1..MAX_SYNC_RESULTS."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= MAX_SYNC_RESULTS:
        raise argparse.ArgumentTypeError(f"must be 1..{MAX_SYNC_RESULTS:,}")
    return number


def nationalities(value: str) -> tuple[str, ...]:
    """`--nationalities US,GB`: known codes, any case, comma-separated."""
    codes = split_nationalities(value)
    if not codes:
        raise argparse.ArgumentTypeError("give at least one nationality")
    unknown = [code for code in codes if code not in NATIONALITIES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {', '.join(unknown)}; known: {', '.join(NATIONALITIES)}"
        )
    return codes


def positive(value: str) -> int:
    """A whole number ≥ 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    """Every command and option of the CLI."""
    parser = argparse.ArgumentParser(
        prog="randomuser-connector",
        description="Operate the Randomuser connector: trigger syncs, read their "
        "status, inspect and replay dead-lettered messages, read the event log, "
        "rebuild the read model from it.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = commands.add_parser(
        "sync", help="request a sync (POST /commands/sync)", epilog=ENVIRONMENT
    )
    sync.add_argument("--results", type=results, help="users to fetch")
    sync.add_argument(
        "--nationalities", type=nationalities, metavar="US,GB", help="only these"
    )
    sync.add_argument("--seed", help="upstream seed: the same seed, the same users")
    sync.add_argument("--json", action="store_true", help="print the raw answer")

    status = commands.add_parser(
        "status", help="show sync status (GET /queries/sync-status)"
    )
    status.add_argument("--json", action="store_true", help="print the raw answer")

    dead = commands.add_parser("dlq", help="dead-lettered messages")
    dead_commands = dead.add_subparsers(dest="dlq_command", required=True)
    peek = dead_commands.add_parser(
        "list", help="show what a dead-letter queue holds (nothing is taken)"
    )
    replay = dead_commands.add_parser(
        "replay", help="send dead letters back to their work queue"
    )
    for sub in (peek, replay):
        sub.add_argument(
            "--queue", choices=dlq.QUEUES, required=True, help="whose dead letters"
        )
    peek.add_argument(
        "--limit", type=positive, default=100, help="show at most N (default 100)"
    )
    peek.add_argument("--json", action="store_true", help="print JSON")
    replay.add_argument(
        "--limit", type=positive, default=None, help="replay at most N (default all)"
    )
    log = commands.add_parser(
        "events", help="show the event log: every sync command and event kept"
    )
    log.add_argument("--sync", help="only this sync (its id or its command's id)")
    log.add_argument(
        "--since",
        type=since_argument,
        help="from about this time (ISO 8601; the stream starts at the chunk"
        " holding it); default the oldest kept",
    )
    log.add_argument("--json", action="store_true", help="print JSON")

    rebuild = commands.add_parser(
        "rebuild",
        help="replay the event log into a fresh read model, verify it, and"
        " (--switch) move readers to it",
        description="Runs randomuser-rebuild (query_service.rebuild) with the"
        " projector's settings from the environment: MONGO_URL, MONGO_DATABASE,"
        " AMQP_URL, AMQP_NAMESPACE, SNAPSHOTS_KEPT, GZIP_LEVEL.",
    )
    add_rebuild_arguments(rebuild, lease_default=None)
    return parser


def rebuild_command(args: argparse.Namespace) -> list[str]:
    """The `randomuser-rebuild` command line a `rebuild` runs. It runs apart:
    the CLI reaches the services only through their interfaces."""
    command = [sys.executable, "-m", "query_service.rebuild"]
    command += ["--database", args.database]
    if args.since is not None:
        command += ["--since", args.since.isoformat()]
    if args.switch:
        command.append("--switch")
    if args.lease is not None:
        command += ["--lease", f"{args.lease:g}"]
    return command


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status (0 ok, 1 failed, 2 usage or settings)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "rebuild":
        return subprocess.run(rebuild_command(args), check=False).returncode  # noqa: S603
    settings = load_settings(CliSettings)
    results = getattr(args, "results", None)
    if results is not None and results > settings.sync_max_results:
        parser.error(
            f"--results {results:,} exceeds SYNC_MAX_RESULTS "
            f"({settings.sync_max_results:,})"
        )
    try:
        return asyncio.run(_run(args, settings))
    except (api.ApiError, broker.BrokerError) as exc:
        sys.stderr.write(f"randomuser-connector: {exc}\n")
        return EXIT_FAILED


async def _run(args: argparse.Namespace, settings: CliSettings) -> int:
    if args.command == "sync":
        options = api.SyncOptions(args.results, args.nationalities, args.seed)
        accepted = await api.request_sync(settings, options)
        print(_json(accepted) if args.json else api.format_accepted(accepted))
    elif args.command == "status":
        status = await api.sync_status(settings)
        print(_json(status) if args.json else api.format_status(status))
    elif args.command == "events":
        entries = await events.logged(settings, since=args.since, sync=args.sync)
        if args.json:
            print(_json([events.as_json(entry) for entry in entries]))
        else:
            print(events.format_logged(entries))
    elif args.dlq_command == "list":
        count, letters = await dlq.peek(settings, args.queue, args.limit)
        if args.json:
            print(
                _json({"count": count, "messages": [dlq.as_json(m) for m in letters]})
            )
        else:
            print(format_letters(args.queue, count, letters))
    else:
        replayed, skipped = await dlq.replay(settings, args.queue, args.limit)
        print(format_replayed(replayed, skipped))
        if skipped:
            return EXIT_FAILED
    return EXIT_OK


def format_letters(queue: str, count: int, letters: Sequence[dlq.DeadLetter]) -> str:
    """What `dlq list` prints."""
    head = f"{count:,} dead-lettered message{'s' if count != 1 else ''} ({queue})"
    if not letters:
        return head
    if len(letters) < count:
        head += f", the first {len(letters):,}:"
    rows = [("MESSAGE ID", "TYPE", "REASON", "FROM QUEUE", "DEATHS", "DIED AT")]
    rows += [
        (
            letter.message_id or "-",
            letter.message_type or "-",
            letter.reason or "-",
            letter.queue or "-",
            str(letter.deaths),
            letter.died_at or "-",
        )
        for letter in letters
    ]
    return "\n".join([head, *api.table(rows)])


def format_replayed(
    replayed: Sequence[dlq.Replayed], skipped: Sequence[dlq.DeadLetter]
) -> str:
    """What `dlq replay` prints."""
    lines = [
        f"replayed {r.letter.message_id} ({r.letter.message_type}) to"
        f" {r.exchange or '(default exchange)'} / {r.routing_key}"
        for r in replayed
    ]
    lines += [
        f"left {s.message_id}: its x-death header names no exchange to replay to"
        for s in skipped
    ]
    lines.append(f"{len(replayed):,} replayed, {len(skipped):,} left in the queue")
    return "\n".join(lines)


def _json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
