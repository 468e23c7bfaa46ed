"""Checks that nginx gives every response the ids of its own request."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import aiohttp

from tests.support.eventually import eventually

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

# Responses of every kind nginx gives: from the micro-cache, proxied, static,
# nginx's own errors (404, 403/405) and a service's error (401).
OTHER_REQUESTS = (
    ("GET", "/queries/sync-status"),
    ("GET", "/queries/countries"),
    ("GET", "/queries/countries/names"),
    ("GET", "/"),
    ("GET", "/no-such-file.js"),
    ("POST", "/queries/countries"),
    ("POST", "/commands/sync"),
    ("GET", "/rabbitmq/"),
)


async def assert_every_response_has_its_own_ids(base_url: str) -> None:
    """Through nginx at `base_url`, every response, one from nginx's
    micro-cache included, carries exactly one X-Request-ID, never seen before,
    and the caller's X-Correlation-ID (or, without one, the request id)."""
    seen: list[tuple[str, str | None, CIMultiDictProxy[str]]] = []
    async with aiohttp.ClientSession(base_url=base_url) as session:

        async def send(method: str, path: str, correlation_id: str | None) -> str:
            headers = {"X-Correlation-ID": correlation_id} if correlation_id else {}
            async with session.request(method, path, headers=headers) as response:
                await response.read()
                seen.append((f"{method} {path}", correlation_id, response.headers))
                return response.headers.get("X-Cache", "")

        async def cache_hit() -> bool:
            sent = f"e2e-ids-{uuid.uuid4().hex}"
            # /queries/countries comes from files; the rest of /queries/ is
            # micro-cached.
            return await send("GET", "/queries/openapi.json", sent) == "HIT"

        await eventually(cache_hit, what="a response from nginx's micro-cache")
        for method, path in OTHER_REQUESTS:
            await send(method, path, f"e2e-ids-{uuid.uuid4().hex}")
            await send(method, path, None)

    request_ids: list[str] = []
    for request, sent, headers in seen:
        ids = headers.getall("X-Request-ID", [])
        assert len(ids) == 1, f"{request}: X-Request-ID {ids}"
        request_ids.extend(ids)
        correlation = headers.getall("X-Correlation-ID", [])
        assert correlation == [sent or ids[0]], f"{request}: {correlation} ({sent})"
    assert len(set(request_ids)) == len(request_ids), "a request id came back twice"
