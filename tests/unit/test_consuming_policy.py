"""run_consumer's policy on fake deliveries: ack after the write, dead-letter, requeue, retry."""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import aiormq.exceptions
import pytest
from aio_pika.exceptions import ChannelInvalidStateError
from pamqp.commands import Basic
from prometheus_client import REGISTRY

from common.consuming import run_consumer
from common.delivery import PoisonMessage, TransientError
from common.logs import correlation_id_var, message_id_var
from contracts.codec import encode
from contracts.events import SyncFailed
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from contracts.codec import AnyMessage

FAILED = SyncFailed(
    message_id="m-1", correlation_id="c-1", sync_id="s-1", reason="boom", attempts=1
)


class FakeMessage:
    """An incoming delivery that records how it was settled."""

    def __init__(
        self,
        body: bytes,
        *,
        message_id: str = "m-1",
        redelivered: bool = False,
        headers: dict[str, Any] | None = None,
        settle_error: BaseException | None = None,
    ) -> None:
        self.body = body
        self.message_id = message_id
        self.correlation_id = "c-1"
        self.type = "sync.failed"
        self.redelivered = redelivered
        self.headers = headers
        self.settled: list[tuple[str, bool | None]] = []
        self.settle_error = settle_error
        self.done = asyncio.Event()

    def _settle(self, how: str, requeue: bool | None) -> None:
        self.settled.append((how, requeue))
        self.done.set()
        if self.settle_error is not None:
            raise self.settle_error

    async def ack(self) -> None:
        self._settle("ack", None)

    async def nack(self, requeue: bool = True) -> None:
        self._settle("nack", requeue)

    async def reject(self, requeue: bool = False) -> None:
        self._settle("reject", requeue)


class FakeQueue:
    """A queue whose iterator hands out `messages`, then waits like a real one."""

    def __init__(self, *messages: FakeMessage) -> None:
        self.name = f"test-{uuid.uuid4().hex[:12]}"
        self.pending: asyncio.Queue[FakeMessage] = asyncio.Queue()
        for message in messages:
            self.pending.put_nowait(message)
        self.closed = False
        self.taken = 0
        """How many messages the consumer has taken."""
        self.idle = asyncio.Event()
        """Set once the consumer waits for a message and none is left."""

    @asynccontextmanager
    async def iterator(self) -> AsyncIterator[AsyncIterator[FakeMessage]]:
        async def messages() -> AsyncIterator[FakeMessage]:
            while True:
                if self.pending.empty():
                    self.idle.set()
                message = await self.pending.get()
                self.taken += 1
                yield message

        try:
            yield messages()
        finally:
            self.closed = True


def sample(name: str, queue: FakeQueue, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, {"queue": queue.name, **labels})
    return 0.0 if value is None else value


def consumed(queue: FakeQueue, outcome: str) -> float:
    return sample("randomuser_messages_consumed_total", queue, outcome=outcome)


async def settled(message: FakeMessage) -> None:
    async with asyncio.timeout(5):
        await message.done.wait()


class Calls:
    """Counts handler calls; `reached(n)` waits for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Condition()

    async def add(self) -> int:
        async with self._changed:
            self.count += 1
            self._changed.notify_all()
        return self.count

    async def reached(self, n: int) -> None:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: self.count >= n)


async def other_tasks_run() -> None:
    """Let every task that is ready run a few steps, without a wall-clock
    wait: what a consumer that does not wait for its handler would do
    meanwhile (take and start the next message), it has then done. An absence
    has no condition to wait for, and a timed window would be no stronger."""
    for _ in range(20):
        await asyncio.sleep(0)


async def ignore(_: AnyMessage) -> None:
    """A handler that does nothing."""


async def consume(
    queue: FakeQueue,
    handler: Callable[[AnyMessage], Awaitable[None]],
    until: Callable[[], Awaitable[object]],
    *,
    stop: asyncio.Event | None = None,
    shutdown_timeout: float = 1.0,
    **options: Any,
) -> None:
    """Run the consumer until `until()` returns, then stop it and wait for it."""
    stop = stop or asyncio.Event()
    task = asyncio.create_task(
        run_consumer(
            queue,  # type: ignore[arg-type]
            handler,
            stop,
            shutdown_timeout=shutdown_timeout,
            **options,
        )
    )
    try:
        await until()
    finally:
        stop.set()
        async with asyncio.timeout(5):
            await task


# success


async def test_a_handled_message_is_acked_after_the_handler_finishes():
    events: list[str] = []
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(decoded: AnyMessage) -> None:
        assert decoded == FAILED
        started.set()
        await release.wait()
        events.append(f"handled, settled={message.settled}")

    async def until() -> None:
        async with asyncio.timeout(5):
            await started.wait()
        events.append(f"in the handler, settled={message.settled}")
        release.set()
        await settled(message)

    await consume(queue, handler, until)

    assert events == ["in the handler, settled=[]", "handled, settled=[]"]
    assert message.settled == [("ack", None)]
    assert consumed(queue, "acked") == 1
    assert consumed(queue, "requeued") == 0


async def test_messages_are_handled_one_at_a_time_in_order():
    first = FakeMessage(encode(FAILED), message_id="m-1")
    second = FakeMessage(encode(FAILED.model_copy(update={"message_id": "m-2"})))
    queue = FakeQueue(first, second)
    running: list[str] = []
    overlaps: list[list[str]] = []
    starts: list[tuple[str, int, list[tuple[str, bool | None]]]] = []

    async def handler(decoded: AnyMessage) -> None:
        running.append(decoded.message_id)
        overlaps.append(list(running))
        starts.append((decoded.message_id, queue.taken, list(first.settled)))
        # A consumer handling two at once would start the second meanwhile.
        await other_tasks_run()
        running.remove(decoded.message_id)

    await consume(queue, handler, lambda: settled(second))

    assert overlaps == [["m-1"], ["m-2"]]
    assert starts == [("m-1", 1, []), ("m-2", 2, [("ack", None)])]
    assert first.settled == second.settled == [("ack", None)]
    assert consumed(queue, "acked") == 2


async def test_the_handler_runs_with_the_message_ids_in_its_log_context():
    message = FakeMessage(encode(FAILED), message_id="m-ctx")
    seen: list[tuple[str | None, str | None]] = []

    async def handler(_: AnyMessage) -> None:
        seen.append((correlation_id_var.get(), message_id_var.get()))

    await consume(FakeQueue(message), handler, lambda: settled(message))

    assert seen == [("c-1", "m-ctx")]
    assert (correlation_id_var.get(), message_id_var.get()) == (None, None)


async def test_redeliveries_are_counted_and_one_message_is_in_flight_while_handled():
    message = FakeMessage(encode(FAILED), redelivered=True)
    fresh = FakeMessage(encode(FAILED))
    queue = FakeQueue(message, fresh)
    in_flight: list[float] = []

    async def handler(_: AnyMessage) -> None:
        in_flight.append(sample("randomuser_consumer_in_flight", queue))

    await consume(queue, handler, lambda: settled(fresh))

    async def none_in_flight() -> bool:
        return sample("randomuser_consumer_in_flight", queue) == 0

    # The gauge drops in the finished work's done callback.
    await eventually(none_in_flight, timeout=5, what="no message in flight")
    assert in_flight == [1, 1]
    assert sample("randomuser_consumer_in_flight", queue) == 0
    assert sample("randomuser_consumer_redeliveries_total", queue) == 1


# dead-lettering


async def test_an_undecodable_body_is_dead_lettered_with_its_reason_unhandled():
    message = FakeMessage(b"{not json")
    queue = FakeQueue(message)
    handled: list[AnyMessage] = []
    recorded: list[tuple[Any, str]] = []

    async def handler(decoded: AnyMessage) -> None:
        handled.append(decoded)

    async def on_poison(poisoned: Any, reason: str) -> None:
        recorded.append((poisoned, reason))

    await consume(queue, handler, lambda: settled(message), on_poison=on_poison)

    assert handled == []
    assert message.settled == [("reject", False)]
    [(poisoned, reason)] = recorded
    assert poisoned is message
    assert reason.startswith("body is not JSON: ")
    assert (
        sample("randomuser_messages_dead_lettered_total", queue, cause="undecodable")
        == 1
    )
    assert sample("randomuser_messages_dead_lettered_total", queue, cause="poison") == 0
    assert consumed(queue, "dead_lettered") == 1


async def test_a_poison_message_is_dead_lettered_with_the_handlers_reason():
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    recorded: list[str] = []

    async def handler(_: AnyMessage) -> None:
        raise PoisonMessage("batch_index beyond batch_count")

    async def on_poison(_: Any, reason: str) -> None:
        recorded.append(reason)

    await consume(queue, handler, lambda: settled(message), on_poison=on_poison)

    assert message.settled == [("reject", False)]
    assert recorded == ["batch_index beyond batch_count"]
    assert sample("randomuser_messages_dead_lettered_total", queue, cause="poison") == 1
    assert consumed(queue, "dead_lettered") == 1
    assert consumed(queue, "acked") == 0


async def test_a_poison_message_is_dead_lettered_even_if_recording_it_fails(caplog):
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)

    async def handler(_: AnyMessage) -> None:
        raise PoisonMessage("bad")

    async def on_poison(_: Any, __: str) -> None:
        raise RuntimeError("read model down")

    await consume(queue, handler, lambda: settled(message), on_poison=on_poison)

    assert message.settled == [("reject", False)]
    assert "could not record the dead-lettered message" in caplog.messages
    assert consumed(queue, "dead_lettered") == 1


async def test_without_a_poison_callback_the_message_is_still_dead_lettered(caplog):
    message = FakeMessage(b"[]")
    queue = FakeQueue(message)

    async def handler(_: AnyMessage) -> None:
        raise AssertionError("never called")

    await consume(queue, handler, lambda: settled(message))

    assert message.settled == [("reject", False)]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == (
        "dead-lettering message m-1 (sync.failed): body is not a JSON object"
    )


# other failures


@pytest.mark.parametrize(
    ("headers", "count"), [({"x-delivery-count": 3}, 3), (None, 0), ({}, 0)]
)
async def test_an_unexpected_handler_error_requeues_the_message(caplog, headers, count):
    message = FakeMessage(encode(FAILED), headers=headers)
    queue = FakeQueue(message)

    async def handler(_: AnyMessage) -> None:
        raise KeyError("bug")

    await consume(queue, handler, lambda: settled(message))

    assert message.settled == [("nack", True)]
    assert consumed(queue, "requeued") == 1
    assert consumed(queue, "acked") == 0
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == f"handler failed (delivery {count}); requeueing"
    assert record.exc_info is not None


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [
        record.args[3]
        for record in caplog.records
        if isinstance(record.args, tuple) and record.args[:1] == ("transient failure",)
    ]


async def test_a_transient_error_is_retried_with_doubling_bounded_backoff(caplog):
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    calls = Calls()

    async def handler(_: AnyMessage) -> None:
        call = await calls.add()
        if call <= 4:
            raise TransientError(f"mongo down {call}")

    caplog.set_level(logging.WARNING, logger="common.consuming")
    await consume(queue, handler, lambda: settled(message), max_backoff=0.3)

    assert calls.count == 5
    assert message.settled == [("ack", None)]
    assert retry_delays(caplog) == pytest.approx([0.1, 0.2, 0.3, 0.3])
    assert caplog.messages[0] == (
        "transient failure (attempt 1): mongo down 1; retrying in 0.1s"
    )
    assert sample("randomuser_consumer_transient_retries_total", queue) == 4
    assert consumed(queue, "acked") == 1


async def test_a_stop_during_the_backoff_wait_ends_it_and_requeues(caplog):
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    calls = Calls()

    async def handler(_: AnyMessage) -> None:
        await calls.add()
        raise TransientError("mongo down")

    caplog.set_level(logging.WARNING, logger="common.consuming")
    loop = asyncio.get_running_loop()
    # Retries after 0.1, 0.2 and 0.4 s; the stop comes during the 0.8 s wait.
    await consume(queue, handler, lambda: calls.reached(4))
    stopped_after = loop.time()

    assert retry_delays(caplog) == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert message.settled == [("nack", True)]
    assert consumed(queue, "requeued") == 1
    assert loop.time() - stopped_after < 0.5


async def test_a_transient_error_during_shutdown_requeues_instead_of_retrying(caplog):
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    stop = asyncio.Event()
    calls = Calls()

    async def handler(_: AnyMessage) -> None:
        await calls.add()
        stop.set()
        raise TransientError("mongo down")

    await consume(queue, handler, lambda: settled(message), stop=stop)

    assert calls.count == 1
    assert message.settled == [("nack", True)]
    assert consumed(queue, "requeued") == 1
    assert sample("randomuser_consumer_transient_retries_total", queue) == 0
    assert "dependency down during shutdown; requeueing: mongo down" in caplog.messages


# shutdown


async def test_stop_while_idle_ends_the_consumer_and_closes_the_iterator():
    queue = FakeQueue()

    async def handler(_: AnyMessage) -> None:
        raise AssertionError("no message")

    await consume(queue, handler, queue.idle.wait)

    assert queue.closed


async def test_a_stopped_consumer_takes_no_further_message():
    first = FakeMessage(encode(FAILED))
    second = FakeMessage(encode(FAILED))
    queue = FakeQueue(first, second)
    stop = asyncio.Event()

    async def handler(_: AnyMessage) -> None:
        stop.set()

    await consume(queue, handler, lambda: settled(first), stop=stop)

    assert first.settled == [("ack", None)]
    assert second.settled == []


async def test_a_message_in_flight_at_stop_finishes_within_the_grace_period(caplog):
    caplog.set_level(logging.INFO, logger="common.consuming")
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    started, stop = asyncio.Event(), asyncio.Event()

    async def grace_given() -> bool:
        line = "stopping: message m-1 in flight gets up to 2.0s to finish"
        return line in caplog.messages

    async def handler(_: AnyMessage) -> None:
        started.set()
        await stop.wait()
        # Still working once the consumer has seen the stop: a consumer that
        # cancels at stop cancels this wait.
        await eventually(grace_given, timeout=5, what="the grace period given")

    await consume(queue, handler, started.wait, stop=stop, shutdown_timeout=2)

    assert message.settled == [("ack", None)]
    assert consumed(queue, "requeued") == 0


async def test_a_message_in_flight_past_the_grace_period_is_cancelled_and_requeued(
    caplog,
):
    message = FakeMessage(encode(FAILED), message_id="m-slow")
    queue = FakeQueue(message)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(_: AnyMessage) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never finishes by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await consume(queue, handler, started.wait, shutdown_timeout=0.05)

    assert cancelled.is_set()
    assert message.settled == [("nack", True)]
    assert consumed(queue, "requeued") == 1
    assert "returning unfinished message m-slow to the queue" in caplog.messages


async def test_an_error_of_a_message_finishing_at_stop_still_propagates():
    message = FakeMessage(encode(FAILED), settle_error=RuntimeError("settle bug"))
    queue = FakeQueue(message)
    started, stop = asyncio.Event(), asyncio.Event()

    async def handler(_: AnyMessage) -> None:
        started.set()
        await stop.wait()  # still working when the consumer is told to stop

    with pytest.raises(RuntimeError, match="settle bug"):
        await consume(queue, handler, started.wait, stop=stop, shutdown_timeout=2)


# settling on a closed channel


async def test_a_settle_on_a_closed_channel_is_logged_and_consuming_goes_on(caplog):
    lost = FakeMessage(
        encode(FAILED), message_id="m-lost", settle_error=ChannelInvalidStateError()
    )
    later = FakeMessage(encode(FAILED), message_id="m-later")
    queue = FakeQueue(lost, later)

    async def handler(_: AnyMessage) -> None:
        return None

    await consume(queue, handler, lambda: settled(later))

    assert later.settled == [("ack", None)]
    assert (
        "handled message m-lost but could not ack it (ChannelInvalidStateError()); "
        "its redelivery will be acked without handling it again"
    ) in caplog.messages


async def test_a_reject_on_a_closed_channel_is_logged_and_consuming_goes_on(caplog):
    poison = FakeMessage(
        encode(FAILED), message_id="m-poison", settle_error=ChannelInvalidStateError()
    )
    later = FakeMessage(encode(FAILED), message_id="m-later")
    queue = FakeQueue(poison, later)

    calls: list[AnyMessage] = []

    async def handler(message: AnyMessage) -> None:
        calls.append(message)
        if len(calls) == 1:
            raise PoisonMessage("not for this queue")

    await consume(queue, handler, lambda: settled(later))

    assert poison.settled == [("reject", False)]
    assert later.settled == [("ack", None)]
    assert (
        "could not settle message m-poison, its channel is gone "
        "(ChannelInvalidStateError()); the broker delivers it again"
    ) in caplog.messages


@pytest.mark.parametrize("error", [ConnectionResetError("reset"), RuntimeError("bug")])
async def test_only_channel_errors_are_survived_when_settling(error):
    message = FakeMessage(encode(FAILED), settle_error=error)
    later = FakeMessage(encode(FAILED))
    queue = FakeQueue(message, later)

    async def handler(_: AnyMessage) -> None:
        return None

    if isinstance(error, ConnectionError):
        await consume(queue, handler, lambda: settled(later))
        assert later.settled == [("ack", None)]
    else:
        with pytest.raises(RuntimeError, match="bug"):
            await consume(queue, handler, lambda: settled(message))
        assert later.settled == []


# a closed connection under the handler (a frozen broker node)


async def test_a_cancelled_error_nobody_asked_for_is_a_broker_outage_to_wait_out(
    caplog,
):
    # aiormq cancels the confirm futures of a connection it drops after missed
    # heartbeats: the handler's publish raises CancelledError on its own.
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    calls = Calls()

    async def handler(_: AnyMessage) -> None:
        if await calls.add() == 1:
            raise asyncio.CancelledError

    caplog.set_level(logging.WARNING, logger="common.consuming")
    await consume(queue, handler, lambda: settled(message))

    assert calls.count == 2
    assert message.settled == [("ack", None)]
    assert caplog.messages[0] == (
        "transient failure (attempt 1): the broker connection closed"
        " under the handler; retrying in 0.1s"
    )


async def test_a_consumer_cancelled_by_nobody_fails_loudly():
    # A task group ignores a child that ends cancelled: a consumer must not
    # end that way while its process stays up and reports ready.
    queue = FakeQueue()

    async def stray_cancel() -> None:
        raise asyncio.CancelledError

    original = queue.iterator

    @asynccontextmanager
    async def iterator() -> AsyncIterator[AsyncIterator[FakeMessage]]:
        async with original():

            async def messages() -> AsyncIterator[FakeMessage]:
                await stray_cancel()
                yield  # type: ignore[misc]

            yield messages()

    queue.iterator = iterator  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="stopped by a stray cancel"):
        async with asyncio.timeout(5):
            await run_consumer(
                queue,  # type: ignore[arg-type]
                ignore,
                asyncio.Event(),
                shutdown_timeout=1,
            )
    assert queue.closed


async def test_cancelling_the_consumer_still_cancels_it():
    queue = FakeQueue()
    task = asyncio.create_task(
        run_consumer(
            queue,  # type: ignore[arg-type]
            ignore,
            asyncio.Event(),
            shutdown_timeout=1,
        )
    )
    async with asyncio.timeout(5):
        await queue.idle.wait()  # it waits for a message
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_broker_refusing_what_the_handler_publishes_is_waited_out():
    # Quorum queues that lost their quorum nack every publish for as long as
    # it lasts: not the message's fault, so no delivery is spent on it.
    message = FakeMessage(encode(FAILED))
    queue = FakeQueue(message)
    calls = Calls()

    async def handler(_: AnyMessage) -> None:
        if await calls.add() <= 2:
            raise aiormq.exceptions.DeliveryError(None, Basic.Nack(delivery_tag=1))

    await consume(queue, handler, lambda: settled(message), max_backoff=0.2)

    assert calls.count == 3
    assert message.settled == [("ack", None)]
    assert consumed(queue, "requeued") == 0


# redeliveries of what was already handled


def _failed(message_id: str) -> FakeMessage:
    body = encode(FAILED.model_copy(update={"message_id": message_id}))
    return FakeMessage(body, message_id=message_id)


def _again(message_id: str) -> FakeMessage:
    body = encode(FAILED.model_copy(update={"message_id": message_id}))
    return FakeMessage(body, message_id=message_id, redelivered=True)


async def test_a_redelivery_of_a_handled_message_is_acked_without_handling_it(
    caplog,
):
    lost = FakeMessage(
        encode(FAILED.model_copy(update={"message_id": "m-1"})),
        message_id="m-1",
        settle_error=ChannelInvalidStateError(),
    )
    again, other = _again("m-1"), _again("m-2")
    queue = FakeQueue(lost, again, other)
    handled: list[str] = []

    async def handler(message: AnyMessage) -> None:
        handled.append(message.message_id)

    acked_before = consumed(queue, "acked")
    await consume(queue, handler, lambda: settled(other))

    assert handled == ["m-1", "m-2"]
    assert again.settled == [("ack", None)]
    assert "message m-1 was handled before; acking its redelivery" in caplog.messages
    assert consumed(queue, "acked") == acked_before + 2


async def test_only_the_newest_handled_ids_are_remembered(monkeypatch):
    monkeypatch.setattr("common.delivery.HANDLED_REMEMBERED", 2)
    first = [_failed(f"m-{n}") for n in (1, 2, 3)]
    # m-1 was forgotten (only two are kept): handled again; m-3, m-2 are not.
    redelivered = [_again(f"m-{n}") for n in (3, 2, 1)]
    queue = FakeQueue(*first, *redelivered)
    handled: list[str] = []

    async def handler(message: AnyMessage) -> None:
        handled.append(message.message_id)

    await consume(queue, handler, lambda: settled(redelivered[-1]))

    assert handled == ["m-1", "m-2", "m-3", "m-1"]
    assert all(m.settled == [("ack", None)] for m in redelivered)
