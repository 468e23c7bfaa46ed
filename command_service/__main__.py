"""Entry point: `python -m command_service` serves the command API."""

from __future__ import annotations

from aiohttp import web

from command_service.app import create_app
from command_service.settings import CommandSettings
from common.logs import configure_logging
from common.settings import load_settings


def main() -> None:
    """Load settings, configure logging and serve until SIGTERM/SIGINT."""
    settings = load_settings(CommandSettings)
    configure_logging("command_service", settings.log_level, settings.log_format)
    web.run_app(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
