"""A replica's in-memory copy of the current snapshot, following the pointer.

The hot path does no database I/O: requests are answered from memory, and at
most once per poll interval one shared task re-reads the small pointer
document. Only when the pointer has moved is the new snapshot's head read
(its bodies, countries and chunks are read when first needed: see
`served_snapshot`), and then swapped in whole, so a request sees one
snapshot throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Final

from query_service.read_model import ReadModelUnavailable
from query_service.served_snapshot import ServedSnapshot

if TYPE_CHECKING:
    from collections.abc import Callable

    from query_service.read_model import ReadModelReader

logger = logging.getLogger(__name__)

REFRESH_WAIT_SECONDS: Final = 0.2
"""How long a request waits for a due pointer read before answering from memory."""


class SnapshotCache:
    """Follows the current-snapshot pointer for one replica."""

    def __init__(
        self,
        read_model: ReadModelReader,
        *,
        poll_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_model = read_model
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._served: ServedSnapshot | None = None
        self._loaded = False
        self._failing = False
        self._next_check = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self.on_swap: Callable[[str], None] | None = None
        """Called with the new snapshot's id whenever the replica switches."""

    @property
    def served_id(self) -> str | None:
        """The id of the snapshot in memory now (no read)."""
        return self._served.meta.id if self._served is not None else None

    @property
    def loaded(self) -> bool:
        """True once the pointer was read successfully at least once."""
        return self._loaded

    async def current(self) -> ServedSnapshot | None:
        """The snapshot to serve, or None when none was promoted yet.

        Within the poll interval this answers from memory. After it, requests
        join one shared pointer read (waiting at most REFRESH_WAIT_SECONDS),
        so an answer is never older than the interval, even after an idle
        spell. While the database is known to be down they do not wait: the
        replica keeps serving the snapshot it has.

        Raises:
            ReadModelUnavailable: nothing was ever loaded and the database
                cannot be reached.
        """
        if not self._loaded:
            await self.refresh()
        elif self._clock() >= self._next_check:
            task = self._refresh_task()
            if not self._failing:
                # The task logs its own failure (see _refreshed); a slow or
                # failed refresh leaves the snapshot in memory being served.
                with contextlib.suppress(ReadModelUnavailable, TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(task), timeout=REFRESH_WAIT_SECONDS
                    )
        return self._served

    async def refresh(self) -> None:
        """Re-read the pointer now (joining a refresh in flight) and follow it.

        Raises:
            ReadModelUnavailable: the database cannot be reached.
        """
        await asyncio.shield(self._refresh_task())

    async def follow_now(self) -> None:
        """Re-read the pointer with a read that starts now (a refresh already
        in flight may predate a promotion just announced).

        Raises:
            ReadModelUnavailable: the database cannot be reached.
        """
        in_flight = self._refreshing
        if in_flight is not None and not in_flight.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(in_flight)
        await self.refresh()

    async def close(self) -> None:
        """Stop the refresh and the reads in flight."""
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refreshing
        if self._served is not None:
            self._served.cancel_loads()

    def _refresh_task(self) -> asyncio.Task[None]:
        task = self._refreshing
        if task is None or task.done():
            task = asyncio.create_task(self._follow_pointer())
            task.add_done_callback(self._refreshed)
            self._refreshing = task
        return task

    async def _follow_pointer(self) -> None:
        try:
            # After a rebuild the alias names another database: move with it
            # and read its pointer in the same step.
            await self._read_model.follow_alias()
            pointer = await self._read_model.pointer()
            served = self._served
            if pointer is not None and (
                served is None or served.meta.id != pointer.snapshot_id
            ):
                head = await self._read_model.snapshot_head(pointer.snapshot_id)
                loaded = (
                    None
                    if head is None
                    else await ServedSnapshot.load(head, self._read_model)
                )
                # None: deleted between the two reads, so the pointer moved
                # again; keep what we have and follow it next time.
                if loaded is not None:
                    self._served = loaded
                    logger.info("serving snapshot %s", pointer.snapshot_id)
                    if self.on_swap is not None:
                        self.on_swap(pointer.snapshot_id)
            self._loaded = True
        finally:
            # Also after a failure: an outage costs one attempt per interval.
            self._next_check = self._clock() + self._poll_seconds

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not self._failing:
            self._failing = True
            served = self._served
            logger.warning(
                "cannot refresh the snapshot (%s); serving %s",
                error,
                served.meta.id if served else "nothing",
            )
        elif error is None and self._failing:
            self._failing = False
            logger.info("snapshot refresh works again")
