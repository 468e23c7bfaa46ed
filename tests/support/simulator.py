"""The simulator's own record of what it served: the oracle of the e2e tests."""

from __future__ import annotations

from typing import Any

import aiohttp


async def served_pages(sim_url: str, seed: str) -> dict[int, list[dict[str, Any]]]:
    """The users of each page the simulator answered in full with 200 for
    `seed` (`GET /_sim/served`): name, gender, email, country, nat, login uuid.

    A page answered twice (a retried or redelivered fetch) counts once: the
    same seed and page give the same users.
    """
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sim_url}/_sim/served") as response,
    ):
        record = await response.json()
    pages: dict[int, list[dict[str, Any]]] = {}
    for request in record["requests"]:
        params = request["params"]
        if (
            params.get("seed") == seed
            and request["status"] == 200
            and request["complete"]
        ):
            pages[int(params.get("page", "1"))] = request["users"]
    return pages
