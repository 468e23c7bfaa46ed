"""Generator versions 1.4 and 1.3: their nationalities, date ranges and age rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from randomuser_sim.lists import LISTS
from randomuser_sim.nationalities import EXTRAS_V13, EXTRAS_V14, ExtrasFn
from randomuser_sim.transliterate import email_part

if TYPE_CHECKING:
    from collections.abc import Mapping

Picture = dict[str, str]

_PORTRAITS: Final = "https://randomuser.me/api/portraits/"
_COUNTRIES: Final = {
    "AU": "Australia",
    "BR": "Brazil",
    "CA": "Canada",
    "CH": "Switzerland",
    "DE": "Germany",
    "DK": "Denmark",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "IN": "India",
    "IR": "Iran",
    "MX": "Mexico",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "RS": "Serbia",
    "TR": "Turkey",
    "UA": "Ukraine",
    "US": "United States",
}
_FEMALE_TITLES: Final = ("Miss", "Mrs", "Ms")


def _pictures(folder: str, count: int) -> tuple[Picture, ...]:
    # Shared by every user with that portrait: nothing downstream mutates them.
    return tuple(
        {
            "large": f"{_PORTRAITS}{folder}/{n}.jpg",
            "medium": f"{_PORTRAITS}med/{folder}/{n}.jpg",
            "thumbnail": f"{_PORTRAITS}thumb/{folder}/{n}.jpg",
        }
        for n in range(count)
    )


_MEN: Final = _pictures("men", 100)
_WOMEN: Final = _pictures("women", 97)  # indices 97-99 are never produced
_LEGO: Final = _pictures("lego", 10)


@dataclass(frozen=True, slots=True)
class Nationality:
    """Everything a user of one nationality is drawn from, precomputed."""

    code: str
    country: str | None
    male: tuple[tuple[str, str], ...]
    """(first name, its email part) pairs; likewise `female` and `last`."""
    female: tuple[tuple[str, str], ...]
    last: tuple[tuple[str, str], ...]
    street: tuple[str, ...]
    city: tuple[str, ...]
    state: tuple[str, ...]
    male_title: str
    female_titles: tuple[str, ...]
    men_pictures: tuple[Picture, ...]
    women_pictures: tuple[Picture, ...]
    extras: ExtrasFn


def _with_email(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((name, email_part(name)) for name in names)


def _nationality(code: str, extras: ExtrasFn) -> Nationality:
    lego = code == "LEGO"
    lists = LISTS["US" if lego else code]
    swiss = code == "CH"
    return Nationality(
        code=code,
        country=None if lego else _COUNTRIES[code],
        male=_with_email(lists.male),
        female=_with_email(lists.female),
        last=_with_email(lists.last),
        street=lists.street,
        city=lists.city,
        state=lists.state,
        male_title="Monsieur" if swiss else "Mr",
        female_titles=("Mademoiselle", "Madame") if swiss else _FEMALE_TITLES,
        men_pictures=_LEGO if lego else _MEN,
        women_pictures=_LEGO if lego else _WOMEN,
        extras=extras,
    )


@dataclass(frozen=True, slots=True)
class Version:
    """One generator version as `/api/<name>/` serves it."""

    name: str
    nationalities: Mapping[str, Nationality]
    """By code, in index order (A.1); an 18-character seed's suffix indexes it."""
    lego: Nationality
    dob_ms: tuple[int, int]
    registered_ms: tuple[int, int]
    exact_age: bool
    """1.4 counts whole years elapsed; 1.3 subtracts calendar years."""

    @property
    def codes(self) -> tuple[str, ...]:
        """Nationality codes in index order."""
        return tuple(self.nationalities)


def _version(
    name: str,
    table: Mapping[str, ExtrasFn],
    *,
    dob_ms: tuple[int, int],
    registered_ms: tuple[int, int],
    exact_age: bool,
) -> Version:
    nats = {
        code: _nationality(code, fn) for code, fn in table.items() if code != "LEGO"
    }
    return Version(
        name=name,
        nationalities=dict(sorted(nats.items())),
        lego=_nationality("LEGO", table["LEGO"]),
        dob_ms=dob_ms,
        registered_ms=registered_ms,
        exact_age=exact_age,
    )


VERSIONS: Final = {
    "1.4": _version(
        "1.4",
        EXTRAS_V14,
        dob_ms=(-800_000_000_000, 991_088_189_000),
        registered_ms=(1_016_688_461_000, 1_653_344_189_000),
        exact_age=True,
    ),
    "1.3": _version(
        "1.3",
        EXTRAS_V13,
        dob_ms=(-800_000_000_000, 907_193_450_000),
        registered_ms=(1_016_688_461_000, 1_569_449_450_000),
        exact_age=False,
    ),
}
