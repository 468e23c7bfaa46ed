"""Comparing a rebuilt read model with the one in use, snapshot by snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from query_service.ports import ReadModelReader
    from query_service.records import Snapshot, SnapshotMeta

PAGE: Final = 100


@dataclass
class Verified:
    """What a verification compared."""

    compared: list[str] = field(default_factory=list)
    only_rebuilt: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


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


async def lacking(source: ReadModelReader, target: ReadModelReader) -> list[str]:
    """Snapshots `source` keeps that `target` lacks, but for those older than
    every snapshot `target` keeps (it may have pruned them, being ahead)."""
    ours = await kept(target)
    ids = {meta.id for meta in ours}
    oldest = min((meta.synced_at for meta in ours), default=None)
    return [
        meta.id
        for meta in await kept(source)
        if meta.id not in ids and (oldest is None or meta.synced_at >= oldest)
    ]
