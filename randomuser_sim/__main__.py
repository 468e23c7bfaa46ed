"""Entry point: `python -m randomuser_sim --host H --port P` serves the simulator."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from common.lifecycle import stop_event_on_signals
from common.logs import configure_logging
from randomuser_sim.app import create_app
from randomuser_sim.config import SimConfig

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger("randomuser_sim")

_SHUTDOWN_TIMEOUT_SECONDS = 5.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; bad values end the process with status 2."""
    parser = argparse.ArgumentParser(
        prog="python -m randomuser_sim",
        description="A local stand-in for https://randomuser.me/api with faults.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400, help="0 picks a free port")
    parser.add_argument("--rate-limit-users", type=int, default=20_000)
    parser.add_argument("--rate-window-seconds", type=float, default=300.0)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument(
        "--instance-id", help="this process's id in /_sim/healthz (default: a uuid4)"
    )
    parser.add_argument(
        "--gzip", action="store_true", help="compress bodies as production does"
    )
    parser.add_argument(
        "--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), default="INFO"
    )
    parser.add_argument("--log-format", choices=("json", "text"), default="json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT, after logging one line with the URL."""
    args = parse_args(argv)
    try:
        config = SimConfig(
            rate_limit_users=args.rate_limit_users,
            rate_window_seconds=args.rate_window_seconds,
            latency_ms=args.latency_ms,
            gzip=args.gzip,
            **({"instance_id": args.instance_id} if args.instance_id else {}),
        )
    except ValidationError as exc:
        for error in exc.errors():
            name = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-")
            sys.stderr.write(f"configuration error: {name}: {error['msg']}\n")
        raise SystemExit(2) from None
    configure_logging("randomuser_sim", args.log_level, args.log_format)
    asyncio.run(_serve(create_app(config), args.host, args.port))


async def _serve(app: web.Application, host: str, port: int) -> None:
    # An AppRunner rather than web.run_app: the logged URL carries the bound port,
    # which matters with --port 0.
    # handler_cancellation: a hung request ends the moment its client disconnects.
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        logger.info(
            "serving randomuser.me stand-in at http://%s:%s/api/",
            bound_host,
            bound_port,
        )
        await stop_event_on_signals().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    main()
