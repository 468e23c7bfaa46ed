"""The projector's snapshot files: written whole, `current` moved atomically,
old directories pruned, and `current` withdrawn when a write fails."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from query_service import snapshot_files
from query_service.records import Snapshot, SnapshotMeta

if TYPE_CHECKING:
    from pathlib import Path

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def snapshot(sync_id: str) -> Snapshot:
    return Snapshot(
        meta=SnapshotMeta(id=sync_id, synced_at=T0, user_count=1, country_count=1),
        order_key=sync_id,
        countries=(),
        countries_json=f'{{"id":"{sync_id}"}}'.encode(),
        countries_gzip=f"gzip of {sync_id}".encode(),
        names_json=f'{{"names":"{sync_id}"}}'.encode(),
    )


def test_a_published_snapshot_is_current_with_its_three_bodies(tmp_path: Path) -> None:
    snapshot_files.publish(tmp_path, snapshot("s1"))

    current = tmp_path / "current"
    assert str(current.readlink()) == "s1"
    assert (current / "countries.json").read_bytes() == b'{"id":"s1"}'
    assert (current / "countries.json.gz").read_bytes() == b"gzip of s1"
    assert (current / "names.json").read_bytes() == b'{"names":"s1"}'
    # nginx reads them as another user.
    assert (current / "countries.json").stat().st_mode & 0o777 == 0o644


def test_files_are_dated_from_the_snapshot_id_alone(tmp_path: Path) -> None:
    # nginx's ETag is "<mtime>-<size>": the same id gives the same date, so a
    # replica can compute the tag; another id gives another date.
    snapshot_files.publish(tmp_path / "a", snapshot("s1"))
    snapshot_files.publish(tmp_path / "b", snapshot("s1"))
    snapshot_files.publish(tmp_path / "c", snapshot("s2"))

    def dates(root: Path) -> set[float]:
        return {path.stat().st_mtime for path in (root / "current").iterdir()}

    assert dates(tmp_path / "a") == dates(tmp_path / "b") == {1952320286}
    assert (
        dates(tmp_path / "c") == {snapshot_files.stamp("s2")} != dates(tmp_path / "a")
    )
    assert snapshot_files.etag(1952320286, 300) == "745e0b1e-12c"


def test_current_follows_each_promotion_and_old_directories_go(tmp_path: Path) -> None:
    (tmp_path / ".s0.dead").mkdir()  # an interrupted write
    for index in range(1, 6):
        snapshot_files.publish(tmp_path, snapshot(f"s{index}"))
        # Directories of one second share an mtime: order them as written.
        os.utime(tmp_path / f"s{index}", (index, index))

    assert str((tmp_path / "current").readlink()) == "s5"
    directories = {p.name for p in tmp_path.iterdir() if not p.is_symlink()}
    assert directories == {"s3", "s4", "s5"}
    assert len(directories) == snapshot_files.KEPT


def test_publishing_the_current_snapshot_again_changes_nothing(tmp_path: Path) -> None:
    snapshot_files.publish(tmp_path, snapshot("s1"))
    snapshot_files.publish(tmp_path, snapshot("s1"))

    assert str((tmp_path / "current").readlink()) == "s1"
    assert {p.name for p in tmp_path.iterdir()} == {"s1", "current"}


def test_a_failed_write_withdraws_current(tmp_path: Path) -> None:
    snapshot_files.publish(tmp_path, snapshot("s1"))
    (tmp_path / "s2").write_text("a file where the directory goes")

    with pytest.raises(NotADirectoryError):
        snapshot_files.publish(tmp_path, snapshot("s2"))

    # nginx asks the replicas rather than serve s1 while they serve s2.
    assert not (tmp_path / "current").exists()
    assert not (tmp_path / "current").is_symlink()
