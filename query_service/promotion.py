"""Promotion: a completed sync whose batches are all staged becomes the
current snapshot (or is superseded by a newer one), and the read model is
tidied after it.

Documents first, pointer last: readers only follow the pointer, so a
half-written snapshot is never visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from query_service import metrics
from query_service.snapshot_build import (
    assemble_snapshot,
    name_order,
    order_key,
    render_country,
    summarise,
)

if TYPE_CHECKING:
    from query_service.projection import ProjectionConfig
    from query_service.read_model import ReadModel
    from query_service.records import Completion, CountrySummary, SyncRecord

logger = logging.getLogger(__name__)


async def try_promote(
    read_model: ReadModel, sync_id: str, config: ProjectionConfig
) -> None:
    """Promote the sync if it completed and all its batches are staged (its
    snapshot becomes current, or it is superseded by a newer one)."""
    record = await read_model.sync(sync_id)
    if record is None or record.state != "completed" or record.completion is None:
        return
    completion = record.completion
    missing = set(range(completion.batch_count)) - record.staged_batches
    if missing:
        logger.info(
            "sync %s waits for %d of %d batches",
            sync_id,
            len(missing),
            completion.batch_count,
        )
        return
    await _promote(read_model, record, completion, config)


async def _promote(
    read_model: ReadModel,
    record: SyncRecord,
    completion: Completion,
    config: ProjectionConfig,
) -> None:
    sync_id = record.sync_id
    key = order_key(completion.fetched_at, sync_id)
    current = await read_model.pointer()
    if current is not None and current.order_key > key:
        await _supersede(read_model, sync_id, config)
        return
    rendered = await _render_countries(read_model, sync_id, completion.batch_count)
    snapshot = await asyncio.to_thread(
        assemble_snapshot,
        sync_id,
        completion.fetched_at,
        [fragment for _, fragment in rendered],
        [summary for summary, _ in rendered],
        order_key=key,
        gzip_level=config.gzip_level,
    )
    del rendered
    if snapshot.meta.user_count != completion.user_count:
        logger.warning(
            "sync %s announced %d users but staged %d",
            sync_id,
            completion.user_count,
            snapshot.meta.user_count,
        )
    # Documents first, pointer last: readers only follow the pointer, so a
    # half-written snapshot is never visible.
    await read_model.write_snapshot(snapshot, [])
    if not await read_model.move_pointer(sync_id, key):
        await _supersede(read_model, sync_id, config)
        return
    await read_model.mark_promoted(sync_id, now=config.clock())
    if config.on_promoted is not None:
        await config.on_promoted(snapshot)
    metrics.record_promotion("promoted")
    metrics.SNAPSHOT_USERS.set(snapshot.meta.user_count)
    logger.info(
        "promoted snapshot %s: %d users in %d countries",
        sync_id,
        snapshot.meta.user_count,
        snapshot.meta.country_count,
    )
    await tidy(read_model, config)


async def _render_countries(
    read_model: ReadModel, sync_id: str, batch_count: int
) -> list[tuple[CountrySummary, bytes]]:
    """Each country's summary and part of the body, in country order, its
    users written as chunks on the way.

    One country at a time: the projector holds the users of one country (and
    the rendered parts, as bytes), never the whole sync as objects. Merging,
    sorting and serialising run in a thread, off the event loop (AMQP
    heartbeats, /readyz), and while one country's chunks are being written
    the next one is read and rendered.
    """
    rendered: list[tuple[CountrySummary, bytes]] = []
    writing: asyncio.Future[None] | None = None
    try:
        async with contextlib.aclosing(read_model.staged_by_country(sync_id)) as parts:
            async for _, staged in parts:
                done = await asyncio.to_thread(render_country, staged, batch_count)
                del staged
                if done is None:
                    continue
                country, fragment = done
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(
                    read_model.write_country(sync_id, country)
                )
                rendered.append((summarise(country), fragment))
        if writing is not None:
            await writing
    finally:
        # On a failure elsewhere: stop the write in flight, and retrieve its
        # outcome (the error that is propagating says what went wrong).
        if writing is not None:
            if not writing.done():
                writing.cancel()
                await asyncio.wait([writing])
            if not writing.cancelled():
                writing.exception()
    rendered.sort(key=lambda item: name_order(item[0].name))
    return rendered


async def _supersede(
    read_model: ReadModel, sync_id: str, config: ProjectionConfig
) -> None:
    logger.info("sync %s is older than the current snapshot; not promoted", sync_id)
    metrics.record_promotion("superseded")
    await read_model.mark_superseded(
        sync_id, "a newer snapshot is current", now=config.clock()
    )
    # Its documents may exist from this or an interrupted earlier attempt.
    await read_model.discard_snapshot(sync_id)
    await tidy(read_model, config)


async def tidy(read_model: ReadModel, config: ProjectionConfig) -> None:
    now = config.clock()
    abandoned = await read_model.abandon_stale_syncs(
        before=now - config.stale_after, now=now
    )
    if abandoned:
        logger.warning("abandoned %d syncs that never completed", abandoned)
    await read_model.collect_garbage(snapshots_kept=config.snapshots_kept)
    pruned = await read_model.prune_syncs(before=now - config.sync_retention)
    if pruned:
        logger.info("deleted %d sync records older than the retention", pruned)
