"""Bearer-token check for commands, in constant time."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from pydantic import SecretStr


def require_bearer(request: web.Request, token: SecretStr | None) -> None:
    """Return when the request carries the token (or none is configured).

    Raises:
        web.HTTPUnauthorized: the header is missing or the token differs.
    """
    if token is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), expected
    ):
        raise web.HTTPUnauthorized(
            text="missing or wrong bearer token in the Authorization header",
            headers={"WWW-Authenticate": 'Bearer realm="commands"'},
        )
