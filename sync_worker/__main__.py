"""Entry point: `python -m sync_worker`."""

from __future__ import annotations

from common.lifecycle import run_worker
from sync_worker.main import run
from sync_worker.settings import SyncWorkerSettings


def main() -> None:
    """Load settings (exit 2 when invalid), run until SIGTERM/SIGINT, exit 1 on a crash."""
    run_worker("sync_worker", SyncWorkerSettings, run)


if __name__ == "__main__":
    main()
