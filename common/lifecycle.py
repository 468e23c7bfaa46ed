"""Process lifecycle: a stop event set by SIGTERM or SIGINT, and the workers' entry point."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, TypeVar

from common.logs import configure_logging
from common.settings import BaseServiceSettings, load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

SettingsT = TypeVar("SettingsT", bound=BaseServiceSettings)


def stop_event_on_signals() -> asyncio.Event:
    """Return an event that SIGTERM and SIGINT set, on the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


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
