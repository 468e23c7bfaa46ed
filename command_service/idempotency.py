"""Idempotency keys of POST /commands/sync: a bounded, expiring map of first answers."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

HEADER: Final = "Idempotency-Key"
KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"


@dataclass(frozen=True)
class Answer:
    """The first answer given for a key, and which request body it answered."""

    body: bytes
    fingerprint: str
    stored_at: float


class KeyReusedError(Exception):
    """The key was used before for a different request body."""


def fingerprint(raw_body: bytes) -> str:
    """What identifies a request body, to refuse a key reused for another one."""
    return hashlib.sha256(raw_body).hexdigest()


class IdempotencyKeys:
    """First answers per key for `window` seconds, at most `capacity` of them.

    Process-local: behind several command replicas a key must always reach the
    same replica (the gateway hashes `Idempotency-Key` over the replicas), and
    a restart forgets the keys. Concurrent requests with one key publish once:
    the later ones wait for the first and get its answer.
    """

    def __init__(
        self,
        *,
        window: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._capacity = capacity
        self._clock = clock
        self._answers: OrderedDict[str, Answer] = OrderedDict()
        self._pending: dict[str, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def _expire(self) -> None:
        oldest_kept = self._clock() - self._window
        while self._answers:
            key, answer = next(iter(self._answers.items()))
            if answer.stored_at > oldest_kept and len(self._answers) <= self._capacity:
                break
            del self._answers[key]

    async def answer(
        self, key: str, body_fingerprint: str, first: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, bool]:
        """The answer for `key`: `first()`'s (False) or the stored one (True).

        Raises:
            KeyReusedError: the key answered a request with another body.
            Whatever `first()` raises; nothing is stored then, so a retry with
            the same key (or one waiting for this attempt) runs `first` again.
        """
        while True:
            self._expire()
            stored = self._answers.get(key)
            if stored is not None:
                if stored.fingerprint != body_fingerprint:
                    raise KeyReusedError(key)
                return stored.body, True
            pending = self._pending.get(key)
            if pending is None:
                break
            # Wait for the attempt in flight, whatever its outcome, then look again.
            await asyncio.wait({pending})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[key] = done
        try:
            body = await first()
            self._answers[key] = Answer(body, body_fingerprint, self._clock())
            self._expire()
        finally:
            del self._pending[key]
            done.set_result(None)
        return body, False
