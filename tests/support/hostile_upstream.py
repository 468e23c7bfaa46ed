"""An upstream that answers each sync with a hostile body, as a process of its own.

`python -m tests.support.hostile_upstream --port N` serves `GET /api/?seed=KIND`
with the body `BODIES[KIND]`, and lists the kinds it served at `GET /_served`.
Run apart from the test so that writing 10-30 MB bodies never shares an event
loop, a heap or a GIL with the worker or the probe that times it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Final

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Callable

TEN_MB: Final = 10_000_000
BODIES: Final[dict[str, Callable[[], tuple[int, str, bytes]]]] = {
    # The error page that froze the loop for 30 s at 480 KB, now over 10 MB.
    "unterminated_title": lambda: (502, "text/html", b"<html><title " * (TEN_MB // 13)),
    "unterminated_tag_200": lambda: (
        200,
        "text/html",
        b"<title" + b"<a " * (TEN_MB // 3),
    ),
    "deeply_nested": lambda: (200, "application/json", b"[" * TEN_MB),
    "huge_number": lambda: (
        200,
        "application/json",
        b'{"results":[' + b"9" * (TEN_MB - 20) + b"]}",
    ),
    "tiny_objects": lambda: (
        200,
        "application/json",
        b'{"results":[' + b"{}," * 99_999 + b"{}]}",
    ),
    "far_too_large": lambda: (200, "application/json", b" " * (3 * TEN_MB)),
}
"""Status, content type and body of each hostile answer, served for one sync;
made when asked, so that importing the kinds costs no memory."""


def app() -> web.Application:
    served: list[str] = []

    async def hostile(request: web.Request) -> web.Response:
        kind = request.query["seed"]
        served.append(kind)
        status, content_type, body = BODIES[kind]()
        return web.Response(status=status, body=body, content_type=content_type)

    async def record(_: web.Request) -> web.Response:
        return web.json_response(served)

    application = web.Application()
    application.router.add_get("/api/", hostile)
    application.router.add_get("/_served", record)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    web.run_app(app(), host="127.0.0.1", port=arguments.port, print=None)


if __name__ == "__main__":
    main()
