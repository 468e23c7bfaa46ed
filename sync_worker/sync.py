"""One sync attempt: fetch every page, validate, publish batches and the outcome."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, assert_never

from common.consuming import PoisonMessage
from contracts.base import new_id, utc_now
from contracts.commands import SyncRequested
from contracts.events import (
    MAX_BATCH_USERS,
    SyncCompleted,
    SyncFailed,
    UsersFetched,
)
from sync_worker import metrics
from sync_worker.randomuser import FetchFailed, FetchRequest, new_seed
from sync_worker.validation import validate_users

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from common.amqp import Publisher
    from contracts.codec import AnyMessage
    from contracts.users import User
    from sync_worker.randomuser import RandomuserClient


logger = logging.getLogger(__name__)


def make_batches(
    sync_id: str,
    users: Sequence[User],
    *,
    correlation_id: str,
    causation_id: str | None,
    size: int = MAX_BATCH_USERS,
) -> list[UsersFetched]:
    """Split `users` into `UsersFetched` events of at most `size` users, in order."""
    count = max(1, -(-len(users) // size))
    return [
        UsersFetched(
            sync_id=sync_id,
            batch_index=index,
            batch_count=count,
            users=tuple(users[index * size : (index + 1) * size]),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        for index in range(count)
    ]


class SyncService:
    """Runs sync attempts and publishes what happened."""

    def __init__(self, randomuser: RandomuserClient, publisher: Publisher) -> None:
        self._randomuser = randomuser
        self._publisher = publisher

    async def handle(self, message: AnyMessage) -> None:
        """Consumer entry point: run a sync for each `SyncRequested`.

        Raises:
            PoisonMessage: the message is not a command this worker handles.
        """
        match message:
            case SyncRequested():
                started = time.perf_counter()
                try:
                    outcome = await self.run(message)
                except Exception:
                    metrics.record_sync("error", time.perf_counter() - started)
                    raise
                metrics.record_sync(
                    "completed" if isinstance(outcome, SyncCompleted) else "failed",
                    time.perf_counter() - started,
                )
            case UsersFetched() | SyncCompleted() | SyncFailed():
                raise PoisonMessage(f"{message.message_type} is not a command")
            case _:
                assert_never(message)

    async def run(self, command: SyncRequested) -> SyncCompleted | SyncFailed:
        """Run one sync attempt under a fresh `sync_id` and publish its outcome.

        Publishes either every `UsersFetched` batch followed by `SyncCompleted`,
        or only `SyncFailed` (upstream failed, or no user passed validation):
        never batches for a failed attempt. Every event carries the command's
        correlation id and names the command as its cause.

        Raises:
            Exception: whatever the publisher raises (the broker is unreachable
                or refused a message). The command is then redelivered and runs
                again as a new attempt; batches of this attempt are never promoted.
        """
        sync_id = new_id()
        started_at = utc_now()
        clock = time.perf_counter()
        seed = command.seed or new_seed()
        logger.info(
            "sync %s started: %d users, seed %s (%s trigger)",
            sync_id,
            command.results,
            seed,
            command.trigger,
        )
        try:
            fetched = await self._randomuser.fetch(
                FetchRequest(
                    results=command.results,
                    seed=seed,
                    nationalities=command.nationalities,
                )
            )
        except FetchFailed as exc:
            return await self._fail(
                command, sync_id, exc.reason, exc.attempts, started_at
            )
        report = validate_users(fetched.users)
        metrics.record_users(len(fetched.users), report.dropped)
        if not report.users:
            reason = (
                f"validation kept none of the {len(fetched.users)} users "
                f"({_describe(report.dropped)})"
            )
            return await self._fail(
                command, sync_id, reason, fetched.attempts, started_at
            )
        batches = make_batches(
            sync_id,
            report.users,
            correlation_id=command.correlation_id,
            causation_id=command.message_id,
        )
        # The outcome goes last: the projector promotes a sync only once
        # `sync.completed` is in and every batch it announces is staged.
        for batch in batches:
            await self._publisher.publish(batch)
        completed = SyncCompleted(
            sync_id=sync_id,
            command_id=command.command_id,
            batch_count=len(batches),
            user_count=len(report.users),
            dropped_count=report.dropped_count,
            dropped_reasons=dict(report.dropped),
            seed=fetched.seed,
            started_at=started_at,
            fetched_at=fetched.fetched_at,
            correlation_id=command.correlation_id,
            causation_id=command.message_id,
        )
        await self._publisher.publish(completed)
        logger.info(
            "sync %s completed: %d users in %d batches, %d dropped, %.3fs",
            sync_id,
            completed.user_count,
            completed.batch_count,
            completed.dropped_count,
            time.perf_counter() - clock,
        )
        if report.dropped:
            logger.warning(
                "sync %s dropped users: %s", sync_id, _describe(report.dropped)
            )
        return completed

    async def _fail(
        self,
        command: SyncRequested,
        sync_id: str,
        reason: str,
        attempts: int,
        started_at: datetime,
    ) -> SyncFailed:
        failed = SyncFailed(
            sync_id=sync_id,
            command_id=command.command_id,
            reason=reason[:2000],
            attempts=max(1, attempts),
            started_at=started_at,
            correlation_id=command.correlation_id,
            causation_id=command.message_id,
        )
        await self._publisher.publish(failed)
        logger.warning(
            "sync %s failed after %d attempts: %s", sync_id, attempts, reason
        )
        return failed


def _describe(dropped: Mapping[str, int]) -> str:
    if not dropped:
        return "nothing dropped"
    return ", ".join(f"{reason}: {count}" for reason, count in sorted(dropped.items()))
