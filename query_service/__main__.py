"""Entry point of a query replica: `python -m query_service`."""

from __future__ import annotations

import logging

from common.lifecycle import serve_http
from common.logs import configure_logging
from common.settings import load_settings
from query_service.app import create_app
from query_service.settings import QuerySettings

logger = logging.getLogger(__name__)


def main() -> None:
    """Load settings, configure logging and serve until SIGTERM or SIGINT."""
    settings = load_settings(QuerySettings)
    configure_logging("query_service", settings.log_level, settings.log_format)
    logger.info(
        "query replica listening on http://%s:%d",
        settings.http_host,
        settings.http_port,
    )
    serve_http(create_app(settings), settings, settings.http_host, settings.http_port)


if __name__ == "__main__":
    main()
