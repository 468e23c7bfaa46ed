"""Which database holds the read model readers use: the alias document.

A rebuild (`query_service/rebuild.py`) writes a fresh read model into a
database of its own and then moves everyone to it with one document in the
home database (MONGO_DATABASE), collection `read_model_alias`:

    {"_id": "read_model", "database": "<current>"}                      settled
    {..., "switching": {"to": "<new>", "until": <lease end>}}            moving

The replicas re-read it with every pointer read and follow `database`; the
projector re-reads it before each message and, while a switch is pending and
its lease has not run out, waits: nothing is projected into the old database
once the rebuild's final catch-up has begun, and the first message after the
switch goes to the new one. With no document, the home database is the read
model. Every write is a compare-and-set on this one document, so two
rebuilds cannot both switch, and a rebuild that died mid-switch releases the
projector when its lease ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pymongo.errors import DuplicateKeyError

if TYPE_CHECKING:
    from datetime import datetime

    from pymongo.asynchronous.collection import AsyncCollection
    from pymongo.asynchronous.database import AsyncDatabase

    from query_service.mongo import Document

ALIASES: Final = "read_model_alias"
ALIAS_ID: Final = "read_model"


@dataclass(frozen=True, slots=True)
class Alias:
    """The alias as read: the database in use, and a switch under way, if any."""

    database: str
    switching_to: str | None = None
    until: datetime | None = None

    def pending(self, now: datetime) -> bool:
        """True while a switch is under way and its lease has not run out."""
        return self.until is not None and self.until > now


class AliasDocument:
    """Reads and moves the alias in the home database."""

    def __init__(self, home: AsyncDatabase[Document]) -> None:
        self._home_name = home.name
        self._aliases: AsyncCollection[Document] = home[ALIASES]

    async def read(self) -> Alias:
        """The alias; the home database when none was ever written."""
        doc = await self._aliases.find_one({"_id": ALIAS_ID})
        if doc is None:
            return Alias(self._home_name)
        switching = doc.get("switching") or {}
        return Alias(doc["database"], switching.get("to"), switching.get("until"))

    async def begin_switch(
        self, current: str, to: str, *, now: datetime, until: datetime
    ) -> bool:
        """Announce a move from `current` to `to`, held until `until`; False when
        the alias no longer names `current` or another switch holds a lease."""
        try:
            result = await self._aliases.update_one(
                {
                    "_id": ALIAS_ID,
                    "database": current,
                    # No switch under way, or one whose lease has run out.
                    "$or": [{"switching": None}, {"switching.until": {"$lte": now}}],
                },
                {
                    "$set": {
                        "database": current,
                        "switching": {"to": to, "until": until},
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:
            # The document exists and did not match: someone else moved it.
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    async def complete_switch(self, current: str, to: str, *, now: datetime) -> bool:
        """Make `to` the read model; False when the lease ran out first (the
        projector may have gone on in `current`: the switch is off)."""
        result = await self._aliases.update_one(
            {
                "_id": ALIAS_ID,
                "database": current,
                "switching.to": to,
                "switching.until": {"$gt": now},
            },
            {
                "$set": {"database": to, "previous": {"database": current, "at": now}},
                "$unset": {"switching": ""},
            },
        )
        return result.modified_count == 1

    async def abandon_switch(self, to: str) -> None:
        """Call off a switch to `to` that will not complete."""
        await self._aliases.update_one(
            {"_id": ALIAS_ID, "switching.to": to}, {"$unset": {"switching": ""}}
        )
