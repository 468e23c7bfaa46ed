"""The simulator's mutable state, shared by the API and admin handlers."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

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


class SimState:
    """Config, pending faults, rate counters, statistics and open hangs."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.faults = FaultQueue()
        self.limiter = RateLimiter(config.rate_limit_users, config.rate_window_seconds)
        self.stats = Stats()
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
