"""National identifiers with check digits or date parts (RANDOMUSER-API.md 7.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from randomuser_sim.draws import between, digits, letter, pick

if TYPE_CHECKING:
    from datetime import date

    from randomuser_sim.draws import Rand

# A.5: the SVNR area prefixes.
_DE_AREAS: Final = tuple(
    f"{area:02d}"
    for area in (
        *(2, 3, 4, 8, 9, *range(10, 22), 23, 24, 25, 26, 28, 29, 38, 39, 40),
        *range(42, 83),
        89,
    )
)
_NINO_FIRST: Final = "ABCEGHJKLMNOPRSTWXYZ"
_NINO_SECOND: Final = "ABCEGHJKLMNPRSTWXYZ"
_NO_K1: Final = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_NO_K2: Final = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_SSN_BLOCKED: Final = frozenset({"078-05-1120", "219-09-9999"})

# The DE, DK and FR date parts use the year minus 1900 (so 2000 → "100"), as the
# generator does; production takes day and month in its server's local time zone,
# we use UTC (7.7).


def de_svnr(rand: Rand, dob: date, *, male: bool, last: str) -> str:
    """`PP DDMMYY L NNd`: area, birth date, initial of the last name, serial."""
    area = pick(rand, _DE_AREAS)
    serial = between(rand, 0, 49) if male else between(rand, 50, 99)
    check = between(rand, 0, 9)
    return (
        f"{area} {dob.day:02d}{dob.month:02d}{dob.year - 1900:02d} "
        f"{last[:1]} {serial:02d}{check}"
    )


def dk_cpr(rand: Rand, dob: date) -> str:
    """`DDMMYY-dddd`."""
    return f"{dob.day:02d}{dob.month:02d}{dob.year - 1900:02d}-{digits(rand, 4)}"


def fr_insee(rand: Rand, dob: date, *, male: bool) -> str:
    """`GYYMMdddddddd KK` with a zero-based month and key `97 - n mod 97`."""
    body = (
        f"{1 if male else 2}{dob.year - 1900:02d}{dob.month - 1:02d}{digits(rand, 8)}"
    )
    return f"{body} {97 - int(body) % 97:02d}"


def no_fodselsnummer(rand: Rand, dob: date, *, male: bool) -> str:
    """11 digits: DDMMYY, an individual number of the right parity, two check digits.

    A draw whose check digit would be 10, or whose last digit is 0, is redrawn.
    """
    date = f"{dob.day:02d}{dob.month:02d}{dob.year % 100:02d}"
    top = 499 if dob.year < 2000 else 999
    while True:
        individual = top - between(rand, 0, 499)
        if individual % 2 != (1 if male else 0):
            individual -= 1
        if individual < 0:
            continue
        head = [int(c) for c in f"{date}{individual:03d}"]
        k1 = _check_digit(head, _NO_K1)
        k2 = _check_digit([*head, k1], _NO_K2)
        if k1 != 10 and k2 not in (0, 10):
            return f"{date}{individual:03d}{k1}{k2}"


def _check_digit(values: list[int], weights: tuple[int, ...]) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder == 0 else 11 - remainder


def ca_sin(rand: Rand) -> str:
    """9 digits passing the Luhn-style check (weights 1,2,1,2,…).

    Production redraws 9 digits until valid; drawing 8 and completing the check digit
    gives the same uniform choice among valid numbers with one draw.
    """
    head = digits(rand, 8)
    total = 0
    for position, char in enumerate(head):
        product = int(char) * (2 if position % 2 else 1)
        total += product // 10 + product % 10
    return f"{head}{-total % 10}"


def us_ssn(rand: Rand) -> str:
    """`ddd-dd-dddd`, redrawn until area, group and serial are all valid."""
    while True:
        area, group, serial = digits(rand, 3), digits(rand, 2), digits(rand, 4)
        ssn = f"{area}-{group}-{serial}"
        if (
            area not in ("000", "666")
            and area[0] != "9"
            and group != "00"
            and serial != "0000"
            and ssn not in _SSN_BLOCKED
        ):
            return ssn


def gb_nino(rand: Rand) -> str:
    """`XY dd dd dd A`."""
    return (
        f"{letter(rand, _NINO_FIRST)}{letter(rand, _NINO_SECOND)} {digits(rand, 2)} "
        f"{digits(rand, 2)} {digits(rand, 2)} {letter(rand)}"
    )
