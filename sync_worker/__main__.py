"""Entry point: `python -m sync_worker`."""

from __future__ import annotations

import asyncio
import logging

from common.logs import configure_logging
from common.settings import load_settings
from sync_worker.main import run
from sync_worker.settings import SyncWorkerSettings

logger = logging.getLogger("sync_worker")


def main() -> None:
    """Load settings (exit 2 when invalid), run until SIGTERM/SIGINT, exit 1 on a crash."""
    settings = load_settings(SyncWorkerSettings)
    configure_logging("sync_worker", settings.log_level, settings.log_format)
    try:
        asyncio.run(run(settings))
    except Exception:
        logger.exception("sync worker crashed")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
