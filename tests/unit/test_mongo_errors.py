"""The read model's connection failures become ReadModelUnavailable, per class."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from query_service.mongo import unavailable_on_connection_errors
from query_service.ports import ReadModelUnavailable
from query_service.read_model import MongoReadModel


class Store:
    async def read(self) -> str:
        raise AutoReconnect("connection reset")

    async def refused(self) -> str:
        raise OperationFailure("not authorized")

    async def _private(self) -> str:
        raise AutoReconnect("connection reset")

    async def fine(self) -> str:
        return "ok"

    def plain(self) -> str:
        raise AutoReconnect("connection reset")


@pytest.fixture
def decorated() -> type[Store]:
    """Store decorated while the test runs (a class decorated on import is
    out of reach of a mutation run, which switches mutants per call)."""
    methods = {name: m for name, m in vars(Store).items() if callable(m)}
    return unavailable_on_connection_errors(type("Store", (Store,), methods))


async def test_a_public_method_turns_a_connection_failure_into_unavailable(
    decorated: type[Store],
) -> None:
    with pytest.raises(
        ReadModelUnavailable, match=r"^MongoDB unavailable \(AutoReconnect\)$"
    ) as raised:
        await decorated().read()
    assert isinstance(raised.value.__cause__, AutoReconnect)


async def test_other_failures_and_results_pass_through(decorated: type[Store]) -> None:
    with pytest.raises(OperationFailure):
        await decorated().refused()
    assert await decorated().fine() == "ok"
    assert decorated.fine.__name__ == "fine"
    assert decorated.fine.__wrapped__ is Store.fine  # type: ignore[attr-defined]


async def test_private_and_plain_methods_are_left_alone(decorated: type[Store]) -> None:
    with pytest.raises(AutoReconnect):
        await decorated()._private()
    with pytest.raises(AutoReconnect):
        decorated().plain()
    assert decorated._private is Store._private
    assert decorated.plain is Store.plain


def test_the_decorator_returns_the_class_it_was_given() -> None:
    cls = type("Empty", (), {})
    assert unavailable_on_connection_errors(cls) is cls


def test_every_public_coroutine_of_the_read_model_is_wrapped() -> None:
    """Each part class is decorated: the wrapper is what the class holds."""
    for name in ("pointer", "snapshot_head", "stage_batch", "sync", "follow_alias"):
        method = getattr(MongoReadModel, name)
        assert method.__wrapped__.__name__ == name, name
