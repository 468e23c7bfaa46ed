"""The current snapshot as files nginx serves itself (SNAPSHOT_FILES_DIR).

At each promotion the projector writes the snapshot's precomputed bodies,
`countries.json`, `countries.json.gz` (nginx's gzip_static) and `names.json`,
into a directory named by the snapshot id, and then points the symlink
`current` at it. Every step is atomic for a reader: the directory is written
under a temporary name, its files fsynced, then renamed; `current` is
replaced by renaming a new symlink over it. A reader (nginx) sees the old
snapshot whole or the new one whole, never a mix. Without `current` (nothing
promoted yet, or a failed write), nginx asks the replicas.

Validators: nginx's own ETag, `"<mtime>-<size>"` in hex, so it answers 304s
natively and does no more per request than for any file (reading the
snapshot id from `current`'s target took a realpath() per request, the
largest cost on that path: docs/BENCHMARKS.md). Every file gets the modification time `stamp(id)`,
a pure function of the snapshot id, so a replica computes the very same tag
for the same bytes (`etag`) and a reader gets one validator whichever of them
answers. Two snapshots share a tag only if 31 bits of their ids' SHA-256 and
the lengths of their bodies all coincide.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import uuid
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

    from query_service.records import Snapshot

logger = logging.getLogger(__name__)

CURRENT: Final = "current"
KEPT: Final = 3
"""Snapshot directories kept, the current one included: a reader that resolved
`current` just before it moved still finds its files."""


def stamp(snapshot_id: str) -> int:
    """The modification time of a snapshot's files, in seconds since the epoch.

    The first 31 bits of the id's SHA-256: any snapshot id gives the same
    stamp everywhere, and 31 bits stay a valid time for every file system.
    """
    digest = hashlib.sha256(snapshot_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def etag(file_stamp: int, size: int) -> str:
    """nginx's ETag of a file of `size` bytes with modification time
    `file_stamp`, without its quotes."""
    return f"{file_stamp:x}-{size:x}"


def publish(root: Path, snapshot: Snapshot) -> None:
    """Write `snapshot`'s files under `root` and make them the current ones.

    On any failure `current` is removed, so nginx falls back to the replicas
    instead of serving an older snapshot than theirs.

    Raises:
        OSError: the files could not be written (after removing `current`).
    """
    try:
        _publish(root, snapshot)
    except OSError:
        withdraw(root)
        raise


def withdraw(root: Path) -> None:
    """Remove `current`: readers go to the replicas."""
    with contextlib.suppress(FileNotFoundError):
        (root / CURRENT).unlink()


def _publish(root: Path, snapshot: Snapshot) -> None:
    root.mkdir(parents=True, exist_ok=True)
    name = snapshot.meta.id
    target = root / name
    if not target.is_dir():
        staging = root / f".{name}.{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        mtime = stamp(name)
        for file, body in (
            ("countries.json", snapshot.countries_json),
            ("countries.json.gz", snapshot.countries_gzip),
            ("names.json", snapshot.names_json),
        ):
            _write(staging / file, body, mtime)
        _fsync_dir(staging)
        staging.rename(target)
    link = root / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
    link.symlink_to(name)
    link.replace(root / CURRENT)
    _fsync_dir(root)
    _prune(root, keep=name)
    logger.info("snapshot %s published as files in %s", name, root)


def _write(path: Path, body: bytes, mtime: int) -> None:
    with path.open("wb") as file:
        file.write(body)
        file.flush()
        os.utime(file.fileno(), (mtime, mtime))
        os.fsync(file.fileno())
    # nginx runs as another user: the files are world-readable.
    path.chmod(0o644)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _prune(root: Path, *, keep: str) -> None:
    """Delete all but the newest KEPT snapshot directories (`keep` among them),
    and stray temporaries of an interrupted write."""
    others = sorted(
        (
            p
            for p in root.iterdir()
            if p.is_dir() and not p.is_symlink() and p.name != keep
        ),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    finished = [p for p in others if not p.name.startswith(".")]
    strays = [p for p in others if p.name.startswith(".")]
    for path in finished[KEPT - 1 :] + strays:
        shutil.rmtree(path, ignore_errors=True)
