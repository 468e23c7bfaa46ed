"""The read model in MongoDB: the reader and writer the services use.

`MongoReadModel` puts together the parts of the schema (`mongo.py`: the
collections, their indexes and the MongoDB compatibility notes): snapshots
(`mongo_snapshots.py`), sync records (`mongo_syncs.py`) and the staging area
(`mongo_staging.py`).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

from pymongo import AsyncMongoClient

from contracts.base import utc_now
from query_service.mongo import (
    FAILABLE,
    STORED_COLLECTIONS,
    SUPERSEDABLE,
    TERMINAL,
    Document,
    unavailable_on_connection_errors,
)
from query_service.mongo_alias import AliasDocument
from query_service.mongo_snapshots import SnapshotDocuments
from query_service.mongo_staging import StagedBatches
from query_service.mongo_syncs import SyncRecords
from query_service.ports import (
    ReadModel,
    ReadModelReader,
    ReadModelUnavailable,
    ReadModelWriter,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [
    "FAILABLE",
    "STORED_COLLECTIONS",
    "SUPERSEDABLE",
    "TERMINAL",
    "MongoReadModel",
    "ReadModel",
    "ReadModelReader",
    "ReadModelUnavailable",
    "ReadModelWriter",
]


SWITCH_POLL_SECONDS: Final = 0.05
"""How often the projector re-reads the alias while a switch is under way."""


@unavailable_on_connection_errors
class MongoReadModel(SnapshotDocuments, SyncRecords, StagedBatches):
    """The read model in MongoDB (or any server speaking its wire protocol).

    It starts in the database it was opened on (the home database); after
    `follow_alias` it reads and writes the one the alias names
    (`mongo_alias.py`).
    """

    @property
    def alias(self) -> AliasDocument:
        """The alias in this model's home database."""
        return AliasDocument(self._home)

    async def follow_alias(self, *, wait_for_switch: bool = False) -> str:
        """Move to the database the alias names, and return its name. With
        `wait_for_switch`, first wait while a switch is under way (its lease
        bounds the wait)."""
        aliases = self.alias
        alias = await aliases.read()
        while wait_for_switch and alias.switching_to is not None:
            if not alias.pending(utc_now()):
                # The lease ran out: call the switch off before going on in
                # the current database, so that it can no longer complete.
                await aliases.abandon_switch(alias.switching_to)
            else:
                await asyncio.sleep(SWITCH_POLL_SECONDS)
            alias = await aliases.read()
        if alias.database != self.database_name:
            self._bind(self._home.client[alias.database])
        return alias.database

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, database: str, *, server_timeout: float, app_name: str
    ) -> AsyncIterator[MongoReadModel]:
        """Yield a read model on a new client; close the client on exit.

        The client connects lazily; a short server-selection timeout makes an
        outage surface as ReadModelUnavailable within `server_timeout` seconds.
        """
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            url,
            tz_aware=True,
            appname=app_name,
            serverSelectionTimeoutMS=int(server_timeout * 1000),
            connectTimeoutMS=int(server_timeout * 1000),
            socketTimeoutMS=int(max(10.0, 5 * server_timeout) * 1000),
            # A replica set: a write is acknowledged once a majority of members
            # has it (it survives a primary failover), and a write cut off by
            # a failover is retried once on the new primary. nx-27017 (one
            # node) accepts both and acknowledges as a standalone would.
            w="majority",
            retryWrites=True,
        )
        try:
            yield cls(client[database])
        finally:
            await client.close()
