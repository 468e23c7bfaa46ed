"""Projection of sync events into the read model: stage, promote, record failures.

Every handler may run again for the same event (redelivery, duplicate) and in
any order relative to the other events of its sync: the first effect is the
only one. A sync becomes visible only through `promote_snapshot`'s move of
the pointer, once `sync.completed` and every batch it announced are staged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, assert_never

from common.delivery import PoisonMessage
from contracts.base import utc_now
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from query_service import metrics
from query_service.promotion import tidy, try_promote
from query_service.records import (
    ACTIVE_STATES,
    Completion,
    DeadLetter,
    Failure,
)
from query_service.snapshot_build import (
    group_by_country,
    uuids_by_country,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aio_pika.abc import AbstractIncomingMessage

    from common.consuming import Handler
    from common.delivery import PoisonCallback
    from contracts.codec import AnyMessage
    from query_service.read_model import ReadModel
    from query_service.records import Snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProjectionConfig:
    """Tunables of the projection."""

    snapshots_kept: int = 48
    stale_after: timedelta = timedelta(hours=1)
    sync_retention: timedelta = timedelta(days=30)
    gzip_level: int = 6
    clock: Callable[[], datetime] = field(default=utc_now)
    on_promoted: Callable[[Snapshot], Awaitable[None]] | None = None
    """Called with each snapshot once it is current (the files for nginx)."""


def projection_handler(read_model: ReadModel, config: ProjectionConfig) -> Handler:
    """The consumer's handler: dispatch each decoded message to its effect.

    Raises (from the returned handler):
        ReadModelUnavailable: a TransientError; the consumer retries.
        PoisonMessage: the message is not an event; it is dead-lettered.
    """

    async def handle(message: AnyMessage) -> None:
        match message:
            case UsersFetched():
                await stage_batch(read_model, message, config)
            case SyncCompleted():
                await promote_snapshot(read_model, message, config)
            case SyncFailed():
                await record_failure(read_model, message, config)
            case SyncRequested():
                raise PoisonMessage("sync.requested is a command, not a sync event")
            case _:
                assert_never(message)
        metrics.record_projected(message, config.clock())
        logger.info("projected %s of sync %s", message.message_type, message.sync_id)

    return handle


def dead_letter_recorder(
    read_model: ReadModel, clock: Callable[[], datetime] = utc_now
) -> PoisonCallback:
    """The consumer's `on_poison`: count each dead-lettered message."""

    async def on_poison(message: AbstractIncomingMessage, reason: str) -> None:
        await read_model.record_dead_letter(
            DeadLetter(
                message_id=message.message_id,
                message_type=message.type,
                reason=reason[:1000],
                at=clock(),
            )
        )

    return on_poison


async def stage_batch(
    read_model: ReadModel, event: UsersFetched, config: ProjectionConfig
) -> None:
    """Stage one batch with one grouped write, then promote the sync if complete.

    A batch already staged is not written again; a batch of a sync that is
    no longer active (promoted, failed, superseded) is ignored.
    """
    sync_id, index = event.sync_id, event.batch_index
    record = await read_model.sync(sync_id)
    if record is not None and record.state not in ACTIVE_STATES:
        logger.info("ignoring batch %d of %s sync %s", index, record.state, sync_id)
        return
    if record is None or index not in record.staged_batches:
        await read_model.stage_batch(
            sync_id,
            index,
            group_by_country(event.users),
            uuids=uuids_by_country(event.users),
        )
        # The index is recorded only after the users are written, so a staged
        # index always means staged data.
        if not await read_model.mark_batch_staged(
            sync_id, index, now=config.clock(), batch_count=event.batch_count
        ):
            await read_model.discard_batch(sync_id, index)
            logger.info(
                "ignoring batch %d of sync %s: no longer active", index, sync_id
            )
            return
        metrics.USERS_PROJECTED.inc(len(event.users))
    await try_promote(read_model, sync_id, config)


async def promote_snapshot(
    read_model: ReadModel, event: SyncCompleted, config: ProjectionConfig
) -> None:
    """Record that a sync completed, and promote it if every batch is staged."""
    completion = Completion(
        batch_count=event.batch_count,
        user_count=event.user_count,
        dropped_count=event.dropped_count,
        dropped_reasons=tuple(sorted(event.dropped_reasons.items())),
        fetched_at=event.fetched_at,
        started_at=event.started_at,
        command_id=event.command_id,
        seed=event.seed,
    )
    if not await read_model.record_completion(
        event.sync_id, completion, now=config.clock()
    ):
        logger.info("ignoring sync.completed of inactive sync %s", event.sync_id)
        return
    await try_promote(read_model, event.sync_id, config)


async def record_failure(
    read_model: ReadModel, event: SyncFailed, config: ProjectionConfig
) -> None:
    """Record a failed sync; the pointer stays where it is."""
    failure = Failure(
        kind=event.kind,
        reason=event.reason,
        attempts=event.attempts,
        failed_at=event.failed_at,
        started_at=event.started_at,
        command_id=event.command_id,
    )
    if not await read_model.record_failure(event.sync_id, failure, now=config.clock()):
        logger.warning("ignoring sync.failed of promoted sync %s", event.sync_id)
        return
    logger.warning(
        "sync %s failed after %d attempts (%s): %s",
        event.sync_id,
        event.attempts,
        event.kind,
        event.reason,
    )
    await tidy(read_model, config)
