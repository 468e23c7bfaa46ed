"""Fakes behind the seams' protocols, for unit tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contracts.codec import AnyMessage


class FakePublisher:
    """Records what would have been published; can be told to fail."""

    def __init__(self, *, error: Exception | None = None) -> None:
        self.published: list[AnyMessage] = []
        self.attempted: list[AnyMessage] = []
        self.error = error

    async def publish(self, message: AnyMessage) -> None:
        """Record `message`, or raise the configured error."""
        self.attempted.append(message)
        if self.error is not None:
            raise self.error
        self.published.append(message)
