"""The read model's MongoDB schema: collections, indexes, the client, errors.

The only place that names collections and indexes; `mongo_snapshots`,
`mongo_syncs` and `mongo_staging` hold the reads and writes of each part, and
`read_model.MongoReadModel` puts them together.

MongoDB compatibility notes (the code targets real MongoDB; `nx-27017`, the
embedded server used for development, differs in the ways listed here, and
every write below is chosen to behave the same on both):

- Upserts use `UpdateOne` + `$set`, never `ReplaceOne`: nx-27017 ignores the
  filter's `_id` on a replace-upsert and cannot replace documents holding bytes.
- Datetimes written on the update path are nested in a subdocument
  (`completed.fetched_at`, ...): nx-27017 turns a top-level datetime `$set` on
  an existing document into a string. Top-level datetimes are written only
  when a document is inserted (`$setOnInsert`).
- `$addToSet` targets an array created with the document: nx-27017 ignores it
  on a missing field of an existing document. `$push`, `$max` and `$slice`
  (projection) are not used: nx-27017 gets them wrong.
- Pointer order keys start `YYYYMMDDTHHMMSS...`, not ISO 8601 with dashes:
  nx-27017 compares strings that look like ISO dates as dates.
- Booleans come back as 0/1 from nx-27017: the one flag (`staged_cleared`)
  is only ever matched with `$ne: True`, never read.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import ConnectionFailure, OperationFailure

from query_service.ports import ReadModelUnavailable
from query_service.records import ACTIVE_STATES, SyncState
from query_service.snapshot_store import (
    SNAPSHOT_BODIES,
    SNAPSHOT_COUNTRIES,
    SnapshotStore,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator

    from pymongo.asynchronous.collection import AsyncCollection
    from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]

STAGED_USERS: Final = "staged_users"
SYNCS: Final = "syncs"
SNAPSHOTS: Final = "snapshots"
POINTERS: Final = "pointers"
PROJECTOR_STATUS: Final = "projector_status"
CURRENT: Final = "current"
DEAD_LETTERS: Final = "dead_letters"
STORED_COLLECTIONS: Final = (
    SYNCS,
    SNAPSHOTS,
    SNAPSHOT_COUNTRIES,
    POINTERS,
    f"{SNAPSHOT_BODIES}.files",
)
"""What a promoted sync leaves behind and a reader of the database can walk.
Staged batches are gone by then; GridFS chunks are 255 kB by construction
(and nx-27017 hangs on a find of them)."""
SUPERSEDABLE: Final = ACTIVE_STATES
FAILABLE: Final[tuple[SyncState, ...]] = (*ACTIVE_STATES, "failed", "superseded")
TERMINAL: Final[tuple[SyncState, ...]] = ("promoted", "failed", "superseded")


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")


def unavailable_on_connection_errors(cls: type[C]) -> type[C]:
    """Class decorator: every public coroutine method `cls` defines itself
    (its bases are decorated on their own) turns the driver's connection
    failures into ReadModelUnavailable. One line per class, so a new method
    cannot forget it; async generators use `connection_errors_as_unavailable`
    around their cursor."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _translating(member))
    return cls


def _translating(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with connection_errors_as_unavailable():
            return await method(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def connection_errors_as_unavailable() -> Iterator[None]:
    """Turn the driver's connection failures inside into ReadModelUnavailable
    (also around a cursor an async generator walks)."""
    try:
        yield
    except ConnectionFailure as exc:
        # AutoReconnect, ServerSelectionTimeoutError and NetworkTimeout are
        # all ConnectionFailures: the database is down or unreachable.
        raise ReadModelUnavailable(
            f"MongoDB unavailable ({type(exc).__name__})"
        ) from exc


@unavailable_on_connection_errors
class MongoCollections:
    """The read model's collections in one database, and their indexes."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        # `database` is the home one (MONGO_DATABASE). The dead-letter tally
        # is no projection of the events: it stays there when readers move
        # to a rebuild.
        self._home = database
        self._status: AsyncCollection[Document] = self._home[PROJECTOR_STATUS]
        self._bind(database)

    def _bind(self, database: AsyncDatabase[Document]) -> None:
        """Read and write the projection in `database` from now on."""
        self._db = database
        self._staged: AsyncCollection[Document] = database[STAGED_USERS]
        self._syncs: AsyncCollection[Document] = database[SYNCS]
        self._store = SnapshotStore(database)
        self._snapshots: AsyncCollection[Document] = database[SNAPSHOTS]
        self._pointers: AsyncCollection[Document] = database[POINTERS]

    @property
    def database_name(self) -> str:
        """The database the projection is read from and written to."""
        return self._db.name

    async def ping(self) -> None:
        """Return when the database answers."""
        await self._db.command("ping")

    async def prepare(self) -> None:
        """Create collections and indexes (idempotent)."""
        await self._staged.create_index(
            [("sync_id", ASCENDING), ("batch_index", ASCENDING)], name="sync_batch"
        )
        # The promotion's one query (`staged_by_country`) reads a sync's
        # staged users in this order: the index serves the sort, so rows
        # stream out instead of being sorted in memory first.
        await self._staged.create_index(
            [
                ("sync_id", ASCENDING),
                ("country", ASCENDING),
                ("batch_index", ASCENDING),
                ("part", ASCENDING),
            ],
            name="sync_country_batch_part",
        )
        with contextlib.suppress(OperationFailure):
            # Before it, (sync_id, country): a prefix of the new one.
            await self._staged.drop_index("sync_country")
        await self._syncs.create_index([("first_seen_at", DESCENDING)], name="recent")
        await self._syncs.create_index(
            [("state", ASCENDING), ("first_seen_at", DESCENDING)], name="state_recent"
        )
        await self._store.prepare()
        await self._snapshots.create_index(
            [("order_key", DESCENDING)], name="order_key"
        )
