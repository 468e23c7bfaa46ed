"""Names of the exchanges, queues and routing keys the services share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topology:
    """Every broker name, under an optional namespace prefix (tests isolate by it).

    Commands and events travel on separate durable topic exchanges, routed by
    message type. Each work queue dead-letters to `dead_letter_exchange` with
    its own name as routing key, into `<queue>.dlq`.
    """

    prefix: str = ""

    def _name(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    @property
    def commands_exchange(self) -> str:
        """Topic exchange for commands (routing key = message type)."""
        return self._name("randomuser.commands")

    @property
    def events_exchange(self) -> str:
        """Topic exchange for events (routing key = message type)."""
        return self._name("randomuser.events")

    @property
    def notices_exchange(self) -> str:
        """Fanout exchange of the projector's notices to the query replicas."""
        return self._name("randomuser.notices")

    @property
    def dead_letter_exchange(self) -> str:
        """Direct exchange receiving rejected messages of every work queue."""
        return self._name("randomuser.dlx")

    @property
    def sync_requests_queue(self) -> str:
        """Sync worker's queue of SyncRequested commands."""
        return self._name("sync_worker.sync_requests")

    @property
    def scheduler_lock_queue(self) -> str:
        """Exclusive queue whose holder is the one worker running the schedule."""
        return self._name("sync_worker.scheduler_lock")

    @property
    def projector_queue(self) -> str:
        """Projector's queue of sync events."""
        return self._name("query_service.projector")

    @property
    def event_log_queue(self) -> str:
        """Stream keeping a copy of every command and event, replayable from any
        offset within its retention (rebuilds and audits read it)."""
        return self._name("randomuser.event_log")

    @property
    def dead_letter_tap_queue(self) -> str:
        """Projector's copy of every dead letter, bound to the dead-letter exchange
        with each work queue's name: it counts them in the read model."""
        return self._name("query_service.dead_letters")

    @staticmethod
    def dead_letter_queue(queue: str) -> str:
        """Name of the dead-letter queue of a work queue."""
        return f"{queue}.dlq"
