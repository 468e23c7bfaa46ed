"""Process lifecycle: a stop event set by SIGTERM or SIGINT, and the entry points
of the workers and of the HTTP services."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from common.logs import configure_logging
from common.settings import BaseServiceSettings, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

SettingsT = TypeVar("SettingsT", bound=BaseServiceSettings)


def stop_event_on_signals() -> asyncio.Event:
    """Return an event that SIGTERM and SIGINT set, on the running loop.

    SIGUSR1 logs where every task of the loop waits (see `log_tasks`).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, log_tasks)
    return stop


def log_tasks() -> None:
    """Log where every task of the running loop waits: what a stuck worker does."""
    logger = logging.getLogger(__name__)
    for task in asyncio.all_tasks():
        logger.warning("task %s waits in: %s", task.get_name(), _awaiting(task))


def _awaiting(task: asyncio.Task[Any]) -> str:
    """The chain of coroutines `task` awaits, outermost first."""
    frames = []
    awaited: object = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            frames.append(type(awaited).__name__)
            break
        code = frame.f_code
        frames.append(f"{code.co_filename}:{frame.f_lineno} {code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(
            awaited, "gi_yieldfrom", None
        )
    return " -> ".join(frames) or "nothing"


def run_worker(
    service: str,
    settings_class: type[SettingsT],
    run: Callable[[SettingsT], Coroutine[object, object, None]],
) -> None:
    """Entry point of a worker process.

    Loads settings (exit 2 naming each bad variable), configures logging,
    runs `run(settings)` until it returns (SIGTERM/SIGINT), and exits 1 with
    the traceback logged when it crashes.
    """
    settings = load_settings(settings_class)
    configure_logging(service, settings.log_level, settings.log_format)
    try:
        asyncio.run(run(settings))
    except Exception:
        logging.getLogger(service).exception("%s crashed", service)
        raise SystemExit(1) from None


def serve_http(
    app: web.Application, settings: BaseServiceSettings, host: str, port: int
) -> None:
    """Serve `app` on host:port until SIGTERM or SIGINT, then shut down within
    the settings' SHUTDOWN_TIMEOUT_SECONDS.

    No aiohttp access log: nginx in front logs every request with its id, and
    a log line per request would cost the read path measurable throughput.
    """
    web.run_app(
        app,
        host=host,
        port=port,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        access_log=None,
        print=None,
    )
