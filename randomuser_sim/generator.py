"""Deterministic user generation from a seed string (RANDOMUSER-API.md 3, 7)."""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right as bisect
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from randomuser_sim.lists import ADJECTIVES, ANIMALS, PASSWORDS, TIMEZONES
from randomuser_sim.params import FIELDS, Unanswerable

if TYPE_CHECKING:
    from randomuser_sim.params import ApiParams
    from randomuser_sim.versions import Nationality, Version

User = dict[str, Any]

_ALNUM: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890"
# Two salt characters per draw: 8 characters cost 4 draws instead of 8.
_ALNUM_PAIRS: Final = tuple(a + b for a in _ALNUM for b in _ALNUM)
_TIMEZONES: Final = tuple({"offset": o, "description": d} for o, d in TIMEZONES)
_UUID_VARIANT: Final = {f"{n:x}": f"{(n & 3) | 8:x}" for n in range(16)}
_EPOCH_DAY: Final = date(1970, 1, 1)
_DAY_MS: Final = 86_400_000
# Day number → (ISO date, date): a pure function, memoised because formatting dates
# is the costliest part of a user.
_DAYS: dict[int, tuple[str, date]] = {}
_MINUTES: Final = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECONDS: Final = tuple(f"{s:02d}." for s in range(60))
_MILLIS: Final = tuple(f"{ms:03d}Z" for ms in range(1000))
# Production draws from 7,547 passwords, one of them empty: keep that 1/7547 chance.
_PASSWORD_LIST_SIZE: Final = 7547
_MAX_AGE: Final = 120


def rng_for(seed: str) -> random.Random:
    """The stream a seed string selects: 32 bits of its md5, as production does."""
    digest = hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()
    return random.Random(int(digest[:8], 16))


def generate(params: ApiParams, version: Version, now: datetime) -> list[User]:
    """`params.results` users; the same params give the same users (ages aside).

    The first k users of a request for n are the users of the request for k: each
    user consumes the stream in turn and nothing depends on the total.

    Raises:
        Unanswerable: a DE user with `id` but not `name` included (production throws).
    """
    rng = rng_for(params.rng_seed)
    rand = rng.random
    bits = rng.getrandbits
    choices = rng.choices
    md5, sha1, sha256 = hashlib.md5, hashlib.sha1, hashlib.sha256

    if params.forced_nat == "LEGO":
        pool: tuple[Nationality, ...] = (version.lego,)
    elif params.forced_nat is not None:
        pool = (version.nationalities[params.forced_nat],)
    else:
        pool = tuple(version.nationalities[c] for c in params.nats or version.codes)
    draw_nat = params.forced_nat is None
    fixed_male = None if params.gender is None else params.gender == "male"
    include = params.include
    everything = include == FIELDS
    de_throws = "id" in include and "name" not in include
    password = params.password
    cutoffs = _age_cutoffs(now, exact=version.exact_age)
    oldest = len(cutoffs)
    dob_low, dob_high = version.dob_ms
    reg_low, reg_high = version.registered_ms
    dob_span, reg_span = dob_high - dob_low + 1, reg_high - reg_low + 1
    n_passwords = len(PASSWORDS)
    days = _DAYS

    users: list[User] = []
    for _ in range(params.results):
        nat = pool[int(rand() * len(pool))] if draw_nat else pool[0]
        male = rand() < 0.5 if fixed_male is None else fixed_male
        firsts = nat.male if male else nat.female
        first, first_email = firsts[int(rand() * len(firsts))]
        last, last_email = nat.last[int(rand() * len(nat.last))]
        if male:
            title = nat.male_title
        else:
            title = nat.female_titles[int(rand() * len(nat.female_titles))]
        timezone = _TIMEZONES[int(rand() * 30)]
        street_number = 1 + int(rand() * 9999)
        street = nat.street[int(rand() * len(nat.street))]
        city = nat.city[int(rand() * len(nat.city))]
        state = nat.state[int(rand() * len(nat.state))]
        generic_postcode = 10000 + int(rand() * 90000)
        latitude = f"{int(rand() * 1800001) / 10000 - 90:.4f}"
        longitude = f"{int(rand() * 3600001) / 10000 - 180:.4f}"
        salt = (
            _ALNUM_PAIRS[int(rand() * 3844)]
            + _ALNUM_PAIRS[int(rand() * 3844)]
            + _ALNUM_PAIRS[int(rand() * 3844)]
            + _ALNUM_PAIRS[int(rand() * 3844)]
        )
        if password is None:
            index = int(rand() * _PASSWORD_LIST_SIZE)
            secret = PASSWORDS[index % n_passwords] if index else ""
        else:
            length = password.min_length + int(
                rand() * (password.max_length - password.min_length + 1)
            )
            secret = "".join(choices(password.charset, k=length))
        hex_id = f"{bits(128):032x}"
        uuid = (
            f"{hex_id[:8]}-{hex_id[8:12]}-4{hex_id[13:16]}-"
            f"{_UUID_VARIANT[hex_id[16]]}{hex_id[17:20]}-{hex_id[20:]}"
        )
        username = (
            f"{ADJECTIVES[int(rand() * 23)]}{ANIMALS[int(rand() * 26)]}"
            f"{100 + int(rand() * 900)}"
        )
        dob_ms = dob_low + int(rand() * dob_span)
        reg_ms = reg_low + int(rand() * reg_span)
        dob_day, dob = days.get(dob_ms // _DAY_MS) or _day(dob_ms // _DAY_MS)
        dob_iso = dob_day + _clock(dob_ms % _DAY_MS)
        reg_day, _ = days.get(reg_ms // _DAY_MS) or _day(reg_ms // _DAY_MS)
        registered_iso = reg_day + _clock(reg_ms % _DAY_MS)
        pictures = nat.men_pictures if male else nat.women_pictures
        picture = pictures[int(rand() * len(pictures))]
        phone, cell, id_name, id_value, postcode = nat.extras(
            rand, male, dob, last, generic_postcode
        )
        if de_throws and nat.code == "DE":
            raise Unanswerable("DE id needs the name")

        salted = (secret + salt).encode()
        location: dict[str, Any] = {
            "street": {"number": street_number, "name": street},
            "city": city,
            "state": state,
            "country": nat.country,
            "postcode": postcode,
            "coordinates": {"latitude": latitude, "longitude": longitude},
            "timezone": timezone,
        }
        if nat.country is None:
            del location["country"]
        user: User = {
            "gender": "male" if male else "female",
            "name": {"title": title, "first": first, "last": last},
            "location": location,
            "email": f"{first_email}.{last_email}@example.com",
            "login": {
                "uuid": uuid,
                "username": username,
                "password": secret,
                "salt": salt,
                "md5": md5(salted, usedforsecurity=False).hexdigest(),
                "sha1": sha1(salted, usedforsecurity=False).hexdigest(),
                "sha256": sha256(salted).hexdigest(),
            },
            "dob": {"date": dob_iso, "age": oldest - bisect(cutoffs, dob_ms)},
            "registered": {
                "date": registered_iso,
                "age": oldest - bisect(cutoffs, reg_ms),
            },
            "phone": phone,
            "cell": cell,
            "id": {"name": id_name, "value": id_value},
            "picture": picture,
            "nat": nat.code,
        }
        users.append(user if everything else {k: user[k] for k in include})
    return users


def _day(number: int) -> tuple[str, date]:
    """`YYYY-MM-DDT` and the date of a day number since 1970-01-01, memoised."""
    calendar_day = _EPOCH_DAY + timedelta(days=number)
    known = _DAYS[number] = (f"{calendar_day.isoformat()}T", calendar_day)
    return known


def _clock(ms_of_day: int) -> str:
    """`HH:mm:ss.sssZ` of a time of day in ms."""
    minutes, ms_of_minute = divmod(ms_of_day, 60_000)
    return (
        _MINUTES[minutes]
        + _SECONDS[ms_of_minute // 1000]
        + _MILLIS[ms_of_minute % 1000]
    )


def _age_cutoffs(now: datetime, *, exact: bool) -> list[int]:
    """Ascending Unix ms times: a time's age at `now` is how many lie after it.

    1.4 counts whole years elapsed (the cut-offs are the anniversaries before `now`);
    1.3 subtracts calendar years (the cut-offs are the New Years up to `now`).
    """
    utc_now = now.astimezone(UTC)
    if exact:
        # +1: a time exactly on an anniversary has completed that year.
        moments = [_years_before(utc_now, years) for years in range(_MAX_AGE, 0, -1)]
        return [_ms(moment) + 1 for moment in moments]
    years = range(utc_now.year - _MAX_AGE + 1, utc_now.year + 1)
    return [_ms(datetime(year, 1, 1, tzinfo=UTC)) for year in years]


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February in a common year
        return moment.replace(year=moment.year - years, day=28)


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
