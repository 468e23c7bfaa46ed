"""JSON logging with the service name and the ids of the work being done."""

from __future__ import annotations

import contextvars
import logging
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import orjson

if TYPE_CHECKING:
    from collections.abc import Iterator

correlation_id_var: Final = contextvars.ContextVar[str | None](
    "correlation_id", default=None
)
message_id_var: Final = contextvars.ContextVar[str | None]("message_id", default=None)

_RESERVED: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render a record as a JSON line."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (correlation_id := correlation_id_var.get()) is not None:
            entry["correlation_id"] = correlation_id
        if (message_id := message_id_var.get()) is not None:
            entry["message_id"] = message_id
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RESERVED and not key.startswith("_")
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send every log record to stderr, as JSON lines or plain text."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiormq logs every reconnect attempt at WARNING with a traceback; our
    # own callbacks report connection state once, readably.
    logging.getLogger("aiormq").setLevel(
        max(logging.getLevelName(level), logging.ERROR)
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


@contextmanager
def log_context(
    *, correlation_id: str | None = None, message_id: str | None = None
) -> Iterator[None]:
    """Attach ids to every log record emitted inside the block (task-local)."""
    tokens = [
        (var, var.set(value))
        for var, value in (
            (correlation_id_var, correlation_id),
            (message_id_var, message_id),
        )
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
