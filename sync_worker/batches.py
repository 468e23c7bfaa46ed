"""A sync's names and pieces: its id and seed (the same for every run of a
command) and the `UsersFetched` batches its users are published as."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Final

from contracts.events import MAX_BATCH_USERS, UsersFetched

if TYPE_CHECKING:
    from collections.abc import Sequence

    from contracts.commands import SyncRequested
    from contracts.users import User


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


def batches_per_page(page_size: int, size: int = MAX_BATCH_USERS) -> int:
    """Batches a page of `page_size` requested users is published as."""
    return max(1, -(-page_size // size))


def page_batches(
    sync_id: str,
    users: Sequence[User],
    *,
    first_index: int,
    count: int,
    batch_count: int,
    correlation_id: str,
    causation_id: str | None,
    size: int = MAX_BATCH_USERS,
) -> list[UsersFetched]:
    """One page's users as exactly `count` batches from `first_index` on.

    Each page owns a fixed range of batch indexes, planned from the sizes
    requested before anything arrived, so `batch_count` is known with the
    first batch. Users dropped by validation leave the trailing batches
    of the range smaller, or empty.
    """
    return [
        UsersFetched(
            sync_id=sync_id,
            batch_index=first_index + offset,
            batch_count=batch_count,
            users=tuple(users[offset * size : (offset + 1) * size]),
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        for offset in range(count)
    ]


SYNC_IDS: Final = uuid.UUID("5f0c3a52-8a7e-4c38-9a8e-2d1f6b7c9e10")
"""The namespace of the name-based (UUID 5) sync ids."""


def sync_id_of(command: SyncRequested) -> str:
    """The id of the sync a command asks for: the same for every run of it."""
    return uuid.uuid5(SYNC_IDS, command.message_id).hex


def seed_of(command: SyncRequested) -> str:
    """The seed of a command that names none: 16 hex characters, the shape
    upstream generates, the same for every run of the command."""
    return uuid.uuid5(SYNC_IDS, f"seed:{command.message_id}").hex[:16]
