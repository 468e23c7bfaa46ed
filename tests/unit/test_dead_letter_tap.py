"""The dead-letter tap describes where and why the broker dead-lettered a message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from query_service.dead_letters import describe_death


def _death(queue: str, reason: str) -> dict[str, object]:
    return {
        "count": 1,
        "reason": reason,
        "queue": queue,
        "time": datetime(2026, 1, 2, tzinfo=UTC),
        "exchange": "randomuser.events",
        "routing-keys": ["sync.failed"],
    }


@pytest.mark.parametrize(
    ("reason", "described"),
    [
        ("rejected", "rejected by its consumer (its log says why)"),
        ("delivery_limit", "delivery limit reached (its handler kept failing)"),
        ("expired", "expired in the queue"),
        ("something_new", "something_new"),
    ],
)
def test_a_death_names_its_queue_and_its_reason(reason: str, described: str) -> None:
    headers = {"x-death": [_death("query_service.projector", reason)]}

    assert describe_death(headers) == f"query_service.projector: {described}"


def test_the_latest_death_comes_first() -> None:
    headers = {
        "x-death": [
            _death("sync_worker.sync_requests", "delivery_limit"),
            _death("query_service.projector", "rejected"),
        ]
    }

    assert describe_death(headers).startswith("sync_worker.sync_requests: delivery")


@pytest.mark.parametrize(
    "headers", [None, {}, {"x-death": []}, {"x-death": "rejected"}, {"x-death": [1]}]
)
def test_a_message_without_a_readable_death_is_still_described(
    headers: object,
) -> None:
    assert describe_death(headers) == "dead-lettered (no x-death header)"
