"""The read model's connection failures become ReadModelUnavailable, per class."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from query_service.mongo import unavailable_on_connection_errors
from query_service.ports import ReadModelUnavailable
from query_service.read_model import MongoReadModel


@unavailable_on_connection_errors
class Store:
    async def read(self) -> str:
        raise AutoReconnect("connection reset")

    async def refused(self) -> str:
        raise OperationFailure("not authorized")

    async def _private(self) -> str:
        raise AutoReconnect("connection reset")

    async def fine(self) -> str:
        return "ok"


async def test_a_public_method_turns_a_connection_failure_into_unavailable():
    with pytest.raises(
        ReadModelUnavailable, match=r"MongoDB unavailable \(AutoReconnect\)"
    ):
        await Store().read()


async def test_other_failures_and_results_pass_through():
    with pytest.raises(OperationFailure):
        await Store().refused()
    assert await Store().fine() == "ok"
    assert Store.fine.__name__ == "fine"


async def test_private_methods_are_left_alone():
    with pytest.raises(AutoReconnect):
        await Store()._private()


def test_every_public_coroutine_of_the_read_model_is_wrapped():
    """Each part class is decorated: the wrapper is what the class holds."""
    for name in ("pointer", "snapshot_head", "stage_batch", "sync", "follow_alias"):
        method = getattr(MongoReadModel, name)
        assert method.__wrapped__.__name__ == name, name
