"""The simulator's mutable state, shared by the API and admin handlers."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from randomuser_sim.faults import FaultQueue
from randomuser_sim.rate_limit import RateLimiter

if TYPE_CHECKING:
    from randomuser_sim.config import SimConfig

_HEX: Final = "abcdef1234567890"


@dataclass(slots=True)
class Stats:
    """What the simulator has served since start."""

    requests: int = 0
    users_served: int = 0


SERVED_REQUESTS_KEPT: Final = 1000
"""The served record keeps the latest requests only: an offline stack runs for days."""


@dataclass(slots=True)
class Served:
    """One request to the API and what its answer held, for tests to compare against."""

    method: str
    path: str
    params: dict[str, str]
    status: int
    fault: str | None
    complete: bool
    """False when the body was cut short (`truncated`): the client got no users."""
    users: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """The JSON shape `GET /_sim/served` lists."""
        return {
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "status": self.status,
            "fault": self.fault,
            "complete": self.complete,
            "users": self.users,
        }


def served_user(user: dict[str, Any]) -> dict[str, Any]:
    """The identifying fields of one generated user as served (absent ones None)."""
    name = user.get("name")
    location = user.get("location")
    login = user.get("login")
    return {
        "name": name if isinstance(name, dict) else None,
        "gender": user.get("gender"),
        "email": user.get("email"),
        "country": location.get("country") if isinstance(location, dict) else None,
        "nat": user.get("nat"),
        "uuid": login.get("uuid") if isinstance(login, dict) else None,
    }


class SimState:
    """Config, pending faults, rate counters, statistics and open hangs."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.faults = FaultQueue()
        self.limiter = RateLimiter(config.rate_limit_users, config.rate_window_seconds)
        self.stats = Stats()
        self.instance = config.instance_id
        self.served: deque[Served] = deque(maxlen=SERVED_REQUESTS_KEPT)
        """What every API request was answered, oldest first (`/_sim/served`)."""
        self.hanging = 0
        """Requests held open by `hang` right now."""
        self.stopping = asyncio.Event()
        """Set on shutdown: hung requests then drop their connections."""
        # Unseeded on purpose: default seeds and Ray IDs are random in production too.
        self._random = random.Random()

    def new_seed(self) -> str:
        """A random 16-character seed over `abcdef1234567890`, as production makes."""
        return "".join(self._random.choices(_HEX, k=16))

    def ray_id(self) -> str:
        """A Cloudflare-style Ray ID (16 hex digits)."""
        return f"{self._random.getrandbits(64):016x}"


SIM: Final = web.AppKey("randomuser_sim", SimState)
