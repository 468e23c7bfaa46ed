"""The rebuild's verification finds every difference between two read models;
its command line."""

from __future__ import annotations

import dataclasses

import pytest

from query_service.rebuild import parse_args
from query_service.rebuild_verify import lacking, verify
from tests.support.memory_read_model import InMemoryReadModel
from tests.unit.test_history import BEFORE, project


async def _twins() -> tuple[InMemoryReadModel, InMemoryReadModel]:
    source, rebuilt = InMemoryReadModel(), InMemoryReadModel()
    for model in (source, rebuilt):
        await project(model, "s1", BEFORE, 0)
        await project(model, "s2", BEFORE[:2], 1)
    return source, rebuilt


async def test_the_same_projection_verifies() -> None:
    source, rebuilt = await _twins()

    verified = await verify(source, rebuilt)

    assert sorted(verified.compared) == ["s1", "s2"]
    assert verified.mismatches == []
    assert verified.only_rebuilt == []


async def test_a_changed_body_or_count_is_a_difference() -> None:
    source, rebuilt = await _twins()
    snapshot = await rebuilt.snapshot("s1")
    assert snapshot is not None
    changed = dataclasses.replace(
        snapshot,
        countries_json=snapshot.countries_json.replace(b"Ann", b"Anne"),
        meta=dataclasses.replace(snapshot.meta, user_count=99),
    )
    await rebuilt.write_snapshot(changed, [])

    verified = await verify(source, rebuilt)

    assert len(verified.mismatches) == 2
    assert all(m.startswith("s1: ") for m in verified.mismatches)
    assert any("countries_json differs" in m for m in verified.mismatches)


async def test_a_snapshot_the_source_deleted_is_only_in_the_rebuild() -> None:
    source, rebuilt = await _twins()
    await source.discard_snapshot("s1")

    verified = await verify(source, rebuilt)

    assert verified.only_rebuilt == ["s1"]
    assert verified.compared == ["s2"]


def test_the_command_line_reads_times_switch_and_lease() -> None:
    plain = parse_args(["--database", "fresh", "--since", "2026-12-05T10:00"])
    switching = parse_args(["--database", "fresh", "--switch", "--lease", "5"])

    assert plain.since.tzinfo is not None
    assert (plain.switch, plain.lease) == (False, 30.0)
    assert (switching.switch, switching.lease, switching.since) == (True, 5.0, None)


def test_since_and_all_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--database", "x", "--all", "--since", "2026-12-05T10:00"])
    assert "not allowed with argument" in capsys.readouterr().err


async def test_a_rebuild_lacking_a_snapshot_in_use_is_not_switched_to() -> None:
    source, rebuilt = await _twins()
    await project(source, "s3", BEFORE[:1], 2)

    missing = await lacking(source, rebuilt)
    await project(rebuilt, "s3", BEFORE[:1], 2)

    assert missing == ["s3"]
    assert await lacking(source, rebuilt) == []


async def test_snapshots_older_than_all_the_rebuild_keeps_may_be_missing() -> None:
    source, rebuilt = InMemoryReadModel(), InMemoryReadModel()
    for minute, sync_id in enumerate(("s1", "s2", "s3")):
        await project(source, sync_id, BEFORE, minute, kept=3)
        await project(rebuilt, sync_id, BEFORE, minute, kept=2)

    assert await lacking(source, rebuilt) == []
    assert await lacking(rebuilt, InMemoryReadModel()) == ["s3", "s2"]
