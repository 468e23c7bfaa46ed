"""Commands: requests for the system to do something."""

from __future__ import annotations

from typing import Final, Literal, get_args

from pydantic import AwareDatetime, Field

from contracts.base import Identifier, Message, new_id, utc_now

MAX_SYNC_RESULTS: Final = 1_000_000
"""The contract's ceiling of one sync. Each process narrows it with its
SYNC_MAX_RESULTS setting (raised from 20,000 in version 1: a wider bound, so
every earlier message still decodes)."""

DEFAULT_SYNC_MAX_RESULTS: Final = 20_000
"""The public API allows 20,000 users per client per 5 minutes: the default
SYNC_MAX_RESULTS. A self-hosted Randomuser has no such limit."""

Nationality = Literal[
    "AU", "BR", "CA", "CH", "DE", "DK", "ES", "FI", "FR", "GB", "IE",
    "IN", "IR", "MX", "NL", "NO", "NZ", "RS", "TR", "UA", "US",
]  # fmt: skip
"""The nationalities upstream's `nat` parameter knows (version 1.4)."""

NATIONALITIES: Final[tuple[str, ...]] = get_args(Nationality)


def split_nationalities(text: str) -> tuple[str, ...]:
    """ "us, GB" (a setting, a CLI argument) → ("US", "GB"): stripped,
    upper-cased (upstream accepts any case), empty parts dropped."""
    return tuple(code.strip().upper() for code in text.split(",") if code.strip())


def normalise_nationalities(value: object) -> object:
    """Nationality codes as upstream takes them, before validation.

    A comma-separated string as `split_nationalities` reads it; each string of
    a list or tuple (a JSON body) stripped and upper-cased. Anything else is
    returned as it is, for the validator to refuse by name.
    """
    if isinstance(value, str):
        return split_nationalities(value)
    if isinstance(value, list | tuple):
        return tuple(
            code.strip().upper() if isinstance(code, str) else code for code in value
        )
    return value


class SyncRequested(Message):
    """Ask the sync worker to fetch a fresh set of users (handled as a command)."""

    message_type: Literal["sync.requested"] = "sync.requested"
    schema_version: Literal[1] = 1
    command_id: Identifier = Field(
        default_factory=new_id,
        description="Returned to the caller of POST /commands/sync.",
    )
    requested_at: AwareDatetime = Field(
        default_factory=utc_now, description="When the command was accepted."
    )
    results: int = Field(
        default=5000, ge=1, le=MAX_SYNC_RESULTS, description="How many users to fetch."
    )
    nationalities: tuple[Nationality, ...] | None = Field(
        default=None, max_length=21, description="Upstream `nat` filter; all when null."
    )
    seed: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Upstream seed, for reproducible data; random when null.",
    )
    trigger: Literal["api", "schedule", "cli"] = Field(
        default="api", description="Who asked for the sync."
    )
