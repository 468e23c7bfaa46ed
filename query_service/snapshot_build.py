"""Building a snapshot from staged batches: merge, order, summarise, render.

Pure functions: the same staged batches give the same bytes, whatever order
they arrived in; the projector's promotion (`projection.py`) calls them.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from query_service import views
from query_service.records import (
    NO_UUID,
    UUID_BYTES,
    CountrySummary,
    CountryUsers,
    Snapshot,
    SnapshotMeta,
    uuid_bytes,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from contracts.users import User
    from query_service.records import StagedCountry, UserRow


def group_by_country(users: Iterable[User]) -> dict[str, list[UserRow]]:
    """A batch's users by country, each list in upstream order."""
    countries: dict[str, list[UserRow]] = {}
    for user in users:
        countries.setdefault(user.country, []).append(
            {"name": user.name, "gender": user.gender, "email": user.email}
        )
    return countries


def uuids_by_country(users: Iterable[User]) -> dict[str, bytes]:
    """A batch's login uuids by country, in the order of `group_by_country`."""
    countries: dict[str, bytearray] = {}
    for user in users:
        countries.setdefault(user.country, bytearray()).extend(uuid_bytes(user.uuid))
    return {name: bytes(uuids) for name, uuids in countries.items()}


def build_countries(
    staged: Iterable[StagedCountry], batch_count: int
) -> list[CountryUsers]:
    """Merge staged batches into countries sorted by name, users in stable order.

    Users sort by case-folded name, then e-mail; ties keep batch order, so
    the result is the same whatever order the batches arrived in. Their
    uuids follow them (NO_UUID for a part staged without).
    """
    merged: dict[str, tuple[list[UserRow], bytearray]] = {}
    for part in sorted(staged, key=lambda p: p.batch_index):
        if part.batch_index < batch_count:
            users, uuids = merged.setdefault(part.country, ([], bytearray()))
            users.extend(part.users)
            if len(part.uuids) == len(part.users) * UUID_BYTES:
                uuids.extend(part.uuids)
            else:
                uuids.extend(NO_UUID * len(part.users))
    return [
        _sorted_country(name, users, uuids)
        for name, (users, uuids) in sorted(
            merged.items(), key=lambda item: name_order(item[0])
        )
    ]


def _sorted_country(
    name: str, users: list[UserRow], uuids: bytes | bytearray
) -> CountryUsers:
    keys = [_user_order(user) for user in users]
    order = sorted(range(len(users)), key=keys.__getitem__)
    view = memoryview(uuids)
    return CountryUsers(
        name=name,
        users=tuple(users[i] for i in order),
        uuids=b"".join(view[i * UUID_BYTES : (i + 1) * UUID_BYTES] for i in order),
    )


def _user_order(user: UserRow) -> tuple[str, str]:
    return user["name"].casefold(), user["email"]


def name_order(name: str) -> tuple[str, str]:
    """Countries sort by case-folded name (then exact, for a stable order)."""
    return name.casefold(), name


def summarise(country: CountryUsers) -> CountrySummary:
    """A country's counts."""
    genders = [user["gender"] for user in country.users]
    return CountrySummary(
        name=country.name,
        user_count=len(genders),
        male=genders.count("male"),
        female=genders.count("female"),
    )


def order_key(fetched_at: datetime, sync_id: str) -> str:
    """The pointer's sort key: when the sync fetched its data, then its id.

    A fixed-width UTC timestamp, so string order is time order. Compact on
    purpose: nx-27017 compares strings that look like ISO dates as dates.
    """
    return f"{fetched_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}/{sync_id}"


def render_country(
    staged: Iterable[StagedCountry], batch_count: int
) -> tuple[CountryUsers, bytes] | None:
    """One country's users merged in stable order, and its part of the body."""
    built = build_countries(staged, batch_count)
    if not built:
        return None
    [country] = built
    return country, orjson.dumps({"name": country.name, "users": country.users})


def build_snapshot(
    sync_id: str,
    fetched_at: datetime,
    countries: Sequence[CountryUsers],
    *,
    order_key: str,
    gzip_level: int,
) -> Snapshot:
    """Precompute a snapshot's response bodies from whole countries."""
    return assemble_snapshot(
        sync_id,
        fetched_at,
        [orjson.dumps({"name": c.name, "users": c.users}) for c in countries],
        [summarise(c) for c in countries],
        order_key=order_key,
        gzip_level=gzip_level,
    )


def assemble_snapshot(
    sync_id: str,
    fetched_at: datetime,
    fragments: Sequence[bytes],
    summaries: Sequence[CountrySummary],
    *,
    order_key: str,
    gzip_level: int,
) -> Snapshot:
    """Precompute a snapshot's response bodies: JSON, its gzip, and the names.

    `fragments` are the countries' parts of the body, in order: the bytes
    are those of `orjson.dumps(views.countries_body(...))`. Gzip runs here,
    once per snapshot, never per request. `mtime=0` makes the bytes depend
    on the content only.
    """
    utc = fetched_at.astimezone(UTC)
    meta = SnapshotMeta(
        id=sync_id,
        # BSON dates hold milliseconds: every body shows the stored value.
        synced_at=utc.replace(microsecond=utc.microsecond // 1000 * 1000),
        user_count=sum(s.user_count for s in summaries),
        country_count=len(summaries),
    )
    body = b"".join(
        (
            b'{"countries":[',
            b",".join(fragments),
            b'],"snapshot":',
            orjson.dumps(views.snapshot_body(meta)),
            b"}",
        )
    )
    return Snapshot(
        meta=meta,
        order_key=order_key,
        countries=tuple(summaries),
        countries_json=body,
        countries_gzip=gzip.compress(body, compresslevel=gzip_level, mtime=0),
        names_json=orjson.dumps(views.names_body(meta, summaries)),
    )
