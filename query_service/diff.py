"""What changed between two snapshots, per country: pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from query_service.records import NO_UUID, CountryUsers, uuid_slice

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from query_service import bodies
    from query_service.records import UserRow


def diff(
    before: Sequence[CountryUsers], after: Sequence[CountryUsers]
) -> list[bodies.CountryDiffBody]:
    """Per country, users added, removed and changed from `before` to `after`.

    Users are matched within a country by login uuid when both snapshots
    kept uuids (a user without one, by e-mail), else by e-mail alone; users
    sharing a key are paired in (name, gender) order. Countries without a
    change are left out.
    """
    old = {c.name: c for c in before}
    new = {c.name: c for c in after}
    changes = []
    for name in sorted(old.keys() | new.keys()):
        country = _country_diff(
            name,
            old.get(name, CountryUsers(name, ())),
            new.get(name, CountryUsers(name, ())),
        )
        if any(country["counts"].values()):
            changes.append(country)
    return changes


def _country_diff(
    name: str, before: CountryUsers, after: CountryUsers
) -> bodies.CountryDiffBody:
    """Pairs by uuid first, then by e-mail among the users left (never two
    users with different uuids); what stays unpaired was added or removed."""
    was, now = _entries(before), _entries(after)
    pairs: list[tuple[_Entry, _Entry]] = []
    old, new = _grouped(was, by_uuid=True), _grouped(now, by_uuid=True)
    for uuid in sorted(old.keys() & new.keys()):
        pairs += _pair(old[uuid], new[uuid])
    paired = {entry for pair in pairs for entry in pair}
    old = _grouped([e for e in was if e not in paired], by_uuid=False)
    new = _grouped([e for e in now if e not in paired], by_uuid=False)
    for email in sorted(old.keys() & new.keys()):
        pairs += _pair(old[email], new[email])
    paired = {entry for pair in pairs for entry in pair}
    changed: list[bodies.ChangedUserBody] = sorted(
        (
            {"before": previous.user, "after": current.user}
            for previous, current in pairs
            if previous.user != current.user
        ),
        key=lambda change: _order(change["after"]),
    )
    removed = [e.user for e in was if e not in paired]
    added = [e.user for e in now if e not in paired]
    return {
        "name": name,
        "counts": {
            "added": len(added),
            "removed": len(removed),
            "changed": len(changed),
        },
        "added": sorted(added, key=_order),
        "removed": sorted(removed, key=_order),
        "changed": changed,
    }


@dataclass(frozen=True, eq=False)
class _Entry:
    """A user and its uuid (NO_UUID for none); equal only to itself."""

    user: UserRow
    uuid: bytes


def _entries(country: CountryUsers) -> list[_Entry]:
    return [
        _Entry(user, uuid_slice(country.uuids, index, 1) or NO_UUID)
        for index, user in enumerate(country.users)
    ]


def _grouped(entries: Iterable[_Entry], *, by_uuid: bool) -> dict[str, list[_Entry]]:
    """By uuid (the users that have one), or by e-mail."""
    grouped: dict[str, list[_Entry]] = {}
    for entry in entries:
        if not by_uuid:
            grouped.setdefault(entry.user["email"], []).append(entry)
        elif entry.uuid != NO_UUID:
            grouped.setdefault(entry.uuid.hex(), []).append(entry)
    return grouped


def _pair(was: list[_Entry], now: list[_Entry]) -> list[tuple[_Entry, _Entry]]:
    """Pair users sharing a key in (name, gender) order; two users with
    different uuids are never a pair."""
    pairs = []
    free = sorted(now, key=_entry_order)
    for previous in sorted(was, key=_entry_order):
        for current in free:
            if (
                NO_UUID in (previous.uuid, current.uuid)
                or previous.uuid == current.uuid
            ):
                pairs.append((previous, current))
                free.remove(current)
                break
    return pairs


def _entry_order(entry: _Entry) -> tuple[str, str]:
    return entry.user["name"], entry.user["gender"]


def _order(user: UserRow) -> tuple[str, str]:
    return user["name"], user["email"]


def total(counts: Iterable[bodies.DiffCountsBody]) -> bodies.DiffCountsBody:
    total: bodies.DiffCountsBody = {"added": 0, "removed": 0, "changed": 0}
    for count in counts:
        total["added"] += count["added"]
        total["removed"] += count["removed"]
        total["changed"] += count["changed"]
    return total
