"""One sync attempt: fetch every page, validate, publish batches and the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Final, assert_never

from common.delivery import PoisonMessage
from contracts.base import utc_now
from contracts.commands import MAX_SYNC_RESULTS, SyncRequested
from contracts.events import (
    SyncCompleted,
    SyncFailed,
    UsersFetched,
)
from sync_worker import metrics
from sync_worker.batches import batches_per_page, page_batches, seed_of, sync_id_of
from sync_worker.fetching import FetchFailed, FetchRequest
from sync_worker.validation import validate_users

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from common.amqp import Publisher
    from contracts.codec import AnyMessage
    from contracts.events import FailureKind
    from sync_worker.fetching import RandomuserClient


logger = logging.getLogger(__name__)

DEFAULT_DEADLINE_SECONDS: Final = 1500.0
"""25 minutes: below RabbitMQ's default consumer timeout (30 minutes), after
which the broker would close the channel and redeliver the command forever."""


class SyncService:
    """Runs sync attempts and publishes what happened."""

    def __init__(
        self,
        randomuser: RandomuserClient,
        publisher: Publisher,
        *,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        max_results: int = MAX_SYNC_RESULTS,
    ) -> None:
        self._randomuser = randomuser
        self._publisher = publisher
        self._deadline = deadline_seconds
        self._max_results = max_results

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
        """Run the command's sync and publish its outcome.

        Streams: each upstream page is validated and published as its
        `UsersFetched` batches as soon as it is in (pages are fetched a few
        at a time), so memory does not grow with the sync. Ends with
        `SyncCompleted`, or with `SyncFailed` when upstream failed, no user
        passed validation or the sync overran its deadline; the projector
        then discards the batches it staged. Every event carries the
        command's correlation id and names the command as its cause.

        The sync id, and the seed when the command names none, come from the
        command's message id: a command that runs again (its handler retried
        after a lost confirm, or redelivered) runs the same sync with the same
        users, and the projector takes each batch and the outcome once. A
        confirm lost with a broker node may hide events the broker did store,
        so a new id per run could give one command two outcomes.

        Raises:
            Exception: whatever the publisher raises (the broker is unreachable,
                refused a message or did not confirm in time). The command is
                then run again, as the same sync.
        """
        sync_id = sync_id_of(command)
        started_at = utc_now()
        clock = time.perf_counter()
        seed = command.seed or seed_of(command)
        logger.info(
            "sync %s started: %d users, seed %s (%s trigger)",
            sync_id,
            command.results,
            seed,
            command.trigger,
        )
        if command.results > self._max_results:
            reason = (
                f"the command asks for {command.results} users; this worker's "
                f"SYNC_MAX_RESULTS is {self._max_results}"
            )
            return await self._fail(
                command, sync_id, "too_many_results", reason, 1, started_at
            )
        sizes = self._randomuser.page_sizes(command.results)
        firsts = list(
            itertools.accumulate((batches_per_page(s) for s in sizes), initial=0)
        )
        batch_count = firsts[-1]
        kept = fetched = attempts = 0
        dropped: Counter[str] = Counter()
        request = FetchRequest(
            results=command.results, seed=seed, nationalities=command.nationalities
        )
        deadline = asyncio.timeout(self._deadline)
        try:
            async with (
                deadline,
                contextlib.aclosing(self._randomuser.pages(request)) as pages,
            ):
                async for page in pages:
                    attempts += page.attempts
                    fetched += len(page.users)
                    # Validating 5,000 users takes tens of milliseconds.
                    report = await asyncio.to_thread(validate_users, page.users)
                    metrics.record_users(len(page.users), report.dropped)
                    kept += len(report.users)
                    dropped.update(report.dropped)
                    index = page.number - 1
                    for batch in page_batches(
                        sync_id,
                        report.users,
                        first_index=firsts[index],
                        count=firsts[index + 1] - firsts[index],
                        batch_count=batch_count,
                        correlation_id=command.correlation_id,
                        causation_id=command.message_id,
                    ):
                        await self._publisher.publish(batch)
        except FetchFailed as exc:
            return await self._fail(
                command,
                sync_id,
                exc.kind,
                exc.reason,
                attempts + exc.attempts,
                started_at,
            )
        except TimeoutError:
            if not deadline.expired():
                raise
            reason = (
                f"the sync overran its deadline of {self._deadline:g}s "
                f"after {fetched} of {command.results} users"
            )
            return await self._fail(
                command, sync_id, "deadline", reason, attempts, started_at
            )
        if not kept:
            reason = (
                f"validation kept none of the {fetched} users ({_describe(dropped)})"
            )
            return await self._fail(
                command, sync_id, "no_valid_users", reason, attempts, started_at
            )
        # The outcome goes last: the projector promotes a sync only once
        # `sync.completed` is in and every batch it announces is staged.
        completed = SyncCompleted(
            sync_id=sync_id,
            command_id=command.command_id,
            batch_count=batch_count,
            user_count=kept,
            dropped_count=sum(dropped.values()),
            dropped_reasons=dict(dropped),
            seed=seed,
            started_at=started_at,
            fetched_at=utc_now(),
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
        if dropped:
            logger.warning("sync %s dropped users: %s", sync_id, _describe(dropped))
        return completed

    async def _fail(
        self,
        command: SyncRequested,
        sync_id: str,
        kind: FailureKind,
        reason: str,
        attempts: int,
        started_at: datetime,
    ) -> SyncFailed:
        failed = SyncFailed(
            sync_id=sync_id,
            command_id=command.command_id,
            kind=kind,
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
