"""The operator CLI without I/O: its arguments, request bodies and printed output."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from connector_cli import api, dlq
from connector_cli.main import (
    build_parser,
    format_letters,
    format_replayed,
    main,
    rebuild_command,
)


def parse(*argv: str) -> Any:
    return build_parser().parse_args(argv)


def test_sync_takes_results_nationalities_and_a_seed():
    args = parse(
        "sync", "--results", "250", "--nationalities", "us, gb", "--seed", "s1"
    )

    assert (args.results, args.nationalities, args.seed) == (250, ("US", "GB"), "s1")
    options = api.SyncOptions(args.results, args.nationalities, args.seed)
    assert options.body() == {
        "results": 250,
        "nationalities": ["US", "GB"],
        "seed": "s1",
    }


def test_a_sync_without_options_sends_an_empty_body():
    args = parse("sync")

    assert api.SyncOptions(args.results, args.nationalities, args.seed).body() == {}


@pytest.mark.parametrize(
    "argv",
    [
        ("sync", "--results", "0"),
        ("sync", "--results", "20001"),
        ("sync", "--results", "many"),
        ("sync", "--nationalities", "US,XX"),
        ("sync", "--nationalities", ","),
        ("dlq", "list"),
        ("dlq", "list", "--queue", "events"),
        ("dlq", "replay", "--queue", "projector", "--limit", "0"),
        ("rebuild",),
        ("rebuild", "--database", "x", "--since", "yesterday"),
        ("rebuild", "--database", "x", "--all", "--since", "2026-12-05"),
        (),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))

    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_dlq_commands_name_the_queue_and_a_limit():
    listed = parse("dlq", "list", "--queue", "projector", "--json")
    replayed = parse("dlq", "replay", "--queue", "sync-requests", "--limit", "3")

    assert (listed.queue, listed.limit, listed.json) == ("projector", 100, True)
    assert (replayed.queue, replayed.limit) == ("sync-requests", 3)
    assert parse("dlq", "replay", "--queue", "projector").limit is None


def test_rebuild_runs_the_rebuild_module_with_the_same_options():
    plain = rebuild_command(parse("rebuild", "--database", "fresh"))
    full = rebuild_command(
        parse(
            "rebuild",
            "--database",
            "fresh",
            "--since",
            "2026-12-05T10:00:00+01:00",
            "--switch",
            "--lease",
            "12.5",
        )
    )

    assert plain[1:] == ["-m", "query_service.rebuild", "--database", "fresh"]
    assert full[4:] == [
        "fresh",
        "--since",
        "2026-12-05T10:00:00+01:00",
        "--switch",
        "--lease",
        "12.5",
    ]


STATUS: dict[str, Any] = {
    "current_snapshot": {
        "id": "snap1",
        "synced_at": "2026-01-02T03:04:05.678000+00:00",
        "user_count": 5000,
        "country_count": 21,
    },
    "last_success": {
        "sync_id": "snap1",
        "state": "promoted",
        "promoted_at": "2026-01-02T03:04:06+00:00",
        "user_count": 5000,
        "dropped_count": 2,
        "first_seen_at": "2026-01-02T03:04:05+00:00",
        "command_id": "c1",
    },
    "last_attempt": {
        "sync_id": "s2",
        "state": "failed",
        "first_seen_at": "2026-01-02T04:00:00+00:00",
        "command_id": "c2",
    },
    "last_failure": {
        "sync_id": "s2",
        "failed_at": "2026-01-02T04:00:01+00:00",
        "attempts": 3,
        "reason": "upstream answered 503",
    },
    "recent": [
        {
            "sync_id": "s2",
            "state": "failed",
            "first_seen_at": "2026-01-02T04:00:00+00:00",
            "user_count": None,
            "command_id": "c2",
        },
        {
            "sync_id": "snap1",
            "state": "promoted",
            "first_seen_at": "2026-01-02T03:04:05+00:00",
            "user_count": 5000,
            "command_id": None,
        },
    ],
    "dead_lettered": 1,
    "last_dead_letter": {
        "message_id": "m9",
        "message_type": "users.fetched",
        "reason": "undecodable",
        "at": "2026-01-02T05:00:00+00:00",
    },
}


def test_status_reads_as_a_summary_and_a_table():
    text = api.format_status(STATUS)

    assert (
        "Current snapshot  snap1: 5,000 users in 21 countries, "
        "synced 2026-01-02 03:04:05 UTC"
    ) in text
    assert (
        "Last success      snap1 at 2026-01-02 03:04:06 UTC (5,000 users, 2 dropped)"
        in text
    )
    assert (
        "Last failure      s2 at 2026-01-02 04:00:01 UTC after 3 attempts: upstream answered 503"
        in text
    )
    assert "Dead letters      1 (last: users.fetched m9" in text
    header, first, second = text.splitlines()[-3:]
    assert header.split() == [
        "STATE",
        "SYNC",
        "ID",
        "USERS",
        "FIRST",
        "SEEN",
        "COMMAND",
    ]
    assert first.split()[:3] == ["failed", "s2", "-"]
    assert second.split()[:3] == ["promoted", "snap1", "5,000"]
    # Columns line up.
    assert header.index("SYNC ID") == first.index("s2") == second.index("snap1")


def test_status_before_any_sync_says_so():
    text = api.format_status(
        {
            "current_snapshot": None,
            "last_success": None,
            "last_attempt": None,
            "last_failure": None,
            "recent": [],
            "dead_lettered": 0,
            "last_dead_letter": None,
        }
    )

    assert "Current snapshot  none yet" in text
    assert "Last failure      none" in text
    assert "Recent attempts" not in text


def incoming(headers: dict[str, Any] | None, **properties: Any) -> Any:
    return SimpleNamespace(
        headers=headers,
        message_id=properties.get("message_id", "m1"),
        type=properties.get("type", "sync.requested"),
        correlation_id="corr-1",
    )


DEATH: dict[str, Any] = {
    "x-death": [
        {
            "count": 1,
            "reason": "rejected",
            "queue": "sync_worker.sync_requests",
            "exchange": "randomuser.commands",
            "routing-keys": ["sync.requested"],
            "time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        }
    ],
    "x-first-death-exchange": "randomuser.commands",
    "x-first-death-queue": "sync_worker.sync_requests",
    "x-first-death-reason": "rejected",
    "schema_version": 1,
}


def test_a_dead_letter_is_described_from_its_latest_death():
    letter = dlq.describe(incoming(DEATH))

    assert letter == dlq.DeadLetter(
        message_id="m1",
        message_type="sync.requested",
        correlation_id="corr-1",
        reason="rejected",
        queue="sync_worker.sync_requests",
        exchange="randomuser.commands",
        routing_key="sync.requested",
        deaths=1,
        died_at="2026-01-02T03:04:05+00:00",
    )


def test_a_message_without_x_death_has_nowhere_to_go():
    letter = dlq.describe(incoming(None))

    assert (letter.exchange, letter.routing_key, letter.deaths) == (None, None, 0)


def test_a_replayed_copy_drops_the_death_bookkeeping_and_counts_replays():
    headers = dlq.replay_headers(DEATH)

    assert headers == {"schema_version": 1, "replay-count": 1}
    assert dlq.replay_headers({**DEATH, "replay-count": 1})["replay-count"] == 2


def test_dlq_list_prints_a_count_and_a_table():
    letter = dlq.describe(incoming(DEATH))

    text = format_letters("sync-requests", 3, [letter])

    lines = text.splitlines()
    assert lines[0] == "3 dead-lettered messages (sync-requests), the first 1:"
    assert lines[1].split()[:4] == ["MESSAGE", "ID", "TYPE", "REASON"]
    assert lines[2].split()[:5] == [
        "m1",
        "sync.requested",
        "rejected",
        "sync_worker.sync_requests",
        "1",
    ]
    assert format_letters("projector", 0, []) == "0 dead-lettered messages (projector)"


def test_dlq_replay_reports_every_message():
    letter = dlq.describe(incoming(DEATH))
    orphan = dlq.describe(incoming(None, message_id="m2"))

    text = format_replayed(
        [dlq.Replayed(letter, "randomuser.commands", "sync.requested")], [orphan]
    )

    assert text.splitlines() == [
        "replayed m1 (sync.requested) to randomuser.commands / sync.requested",
        "left m2: its x-death header names no exchange to replay to",
        "1 replayed, 1 left in the queue",
    ]


def test_sync_max_results_from_the_environment_raises_the_bound(monkeypatch, capsys):
    monkeypatch.setenv("SYNC_MAX_RESULTS", "100")

    with pytest.raises(SystemExit) as exit_:
        main(["sync", "--results", "101"])

    assert exit_.value.code == 2
    assert "exceeds SYNC_MAX_RESULTS (100)" in capsys.readouterr().err
    assert parse("sync", "--results", "1000000").results == 1_000_000
