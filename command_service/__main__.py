"""Entry point: `python -m command_service` serves the command API."""

from __future__ import annotations

from command_service.app import create_app
from command_service.settings import CommandSettings
from common.lifecycle import serve_http
from common.logs import configure_logging
from common.settings import load_settings


def main() -> None:
    """Load settings, configure logging and serve until SIGTERM/SIGINT."""
    settings = load_settings(CommandSettings)
    configure_logging("command_service", settings.log_level, settings.log_format)
    serve_http(create_app(settings), settings, settings.http_host, settings.http_port)


if __name__ == "__main__":
    main()
