"""Query-string parsing with production's quirks (RANDOMUSER-API.md 2.1-2.3, 7.3)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from randomuser_sim.versions import Version

Format = Literal["json", "pretty", "csv", "yaml", "xml"]

FIELDS: Final = (
    "gender",
    "name",
    "location",
    "email",
    "login",
    "dob",
    "registered",
    "phone",
    "cell",
    "id",
    "picture",
    "nat",
)
MAX_RESULTS: Final = 5000
_FORMATS: Final[dict[str, Format]] = {
    "json": "json",
    "pretty": "pretty",
    "prettyjson": "pretty",
    "csv": "csv",
    "yaml": "yaml",
    "xml": "xml",
}
_CHARSETS: Final = {
    "special": " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "number": "0123456789",
}
# Keys whose object form (`?inc[a]=b`) makes the generator throw (5.4).
_OBJECT_FAILS: Final = frozenset({"nat", "inc", "exc", "format", "password"})
_BRACKETS: Final = re.compile(r"([^\[\]]+)\[([^\]]*)\]")
_JS_SPACE: Final = (
    " \t\n\v\f\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_DECIMAL: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_RADIX: Final = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_HEX_PREFIX: Final = re.compile(r"[0-9a-fA-F]+")


class Unanswerable(Exception):
    """Production throws on this request and never answers it (5.4)."""


@dataclass(frozen=True, slots=True)
class PasswordSpec:
    """A `password=` request: characters to draw from and the length range."""

    charset: str
    min_length: int
    max_length: int


@dataclass(frozen=True, slots=True)
class ApiParams:
    """A request's validated parameters, after every silent correction."""

    results: int
    seed: str
    """As reported in `info.seed`."""
    rng_seed: str
    """The string the random stream is seeded from (seed prefix plus page)."""
    page: int | float
    gender: Literal["male", "female"] | None
    nats: tuple[str, ...] | None
    """Codes to draw from (duplicates weight the draw), or None for all."""
    forced_nat: str | None
    """`LEGO` or the nationality an 18-character seed names: no draw at all."""
    include: tuple[str, ...]
    noinfo: bool
    format: Format
    callback: str | None
    download: bool
    password: PasswordSpec | None
    extension: bool


def js_number(text: str) -> float:
    """JavaScript's `Number(text)`: blanks trimmed, "" → 0, hex/octal/binary, else NaN."""
    stripped = text.strip(_JS_SPACE)
    if not stripped:
        return 0.0
    if _RADIX.fullmatch(stripped):
        return float(int(stripped, 0))
    if _DECIMAL.fullmatch(stripped):
        return float(stripped)
    if stripped.lstrip("+-") == "Infinity":
        return -math.inf if stripped.startswith("-") else math.inf
    return math.nan


def js_string(number: float) -> str:
    """JavaScript's `String(number)` for the values a page can take."""
    return str(int(number)) if number.is_integer() else repr(number)


def parse_params(
    query: Iterable[tuple[str, str]], version: Version, new_seed: Callable[[], str]
) -> ApiParams:
    """Read a query string the way the 1.x generator does.

    Raises:
        Unanswerable: for the inputs on which production sends no response at all.
    """
    values: defaultdict[str, list[str]] = defaultdict(list)
    listed: set[str] = set()
    objects: set[str] = set()
    for key, value in query:
        if match := _BRACKETS.fullmatch(key):
            name, inner = match.groups()
            (listed if inner == "" or inner.isdigit() else objects).add(name)
            values[name].append(value)
        else:
            values[key].append(value)

    def last(name: str) -> str | None:
        found = values.get(name)
        return found[-1] if found else None

    results = _results(values.get("results"), listed="results" in listed)
    extension = last("extension") == "true"
    seed = last("seed") or ""
    page = _page(last("page"))
    if objects & _OBJECT_FAILS or ("seed" in objects and page == 1):
        raise Unanswerable("object-valued parameter")

    nat_text = "us,gb" if extension else (last("nat") or last("nationality") or "")
    nats = _nationalities(nat_text, version)
    gender_text = last("gender")
    gender: Literal["male", "female"] | None = None
    if not seed and gender_text in ("male", "female"):
        gender = "male" if gender_text == "male" else "female"
    lego = "lego" in values and last("lego") != "false"

    forced_nat = "LEGO" if lego else None
    rng_seed, info_seed = seed, seed
    if len(seed) == 18:
        index = _seed_index(seed[16:], len(version.codes))
        forced_nat = version.codes[index]
        rng_seed, info_seed = seed[:16], f"{seed}{index:02x}"
    elif not seed:
        rng_seed = info_seed = new_seed()
    if lego and forced_nat == "LEGO":
        info_seed += "-1"
    if page != 1:
        rng_seed += js_string(page)

    include = _include(last("inc"), last("exc"))
    if extension and not {"name", "picture"} <= set(include):
        raise Unanswerable("extension without name or picture")
    fmt_text = (last("format") or last("fmt") or "json").lower()
    return ApiParams(
        results=results,
        seed=info_seed,
        rng_seed=rng_seed,
        page=int(page) if page.is_integer() else page,
        gender=gender,
        nats=nats,
        forced_nat=forced_nat,
        include=include,
        # Quirk 19: `lego=false` makes `noinfo` ineffective.
        noinfo="noinfo" in values and last("lego") != "false",
        format=_FORMATS.get(fmt_text, "json"),
        callback=last("callback"),
        download="dl" in values or "download" in values,
        password=_password(last("password")),
        extension=extension,
    )


def _results(raw: list[str] | None, *, listed: bool) -> int:
    if raw is None or len(raw) != 1 or listed:
        return 1
    number = js_number(raw[0])
    if number.is_integer() and 1 <= number <= MAX_RESULTS:
        return int(number)
    return 1


def _page(raw: str | None) -> float:
    number = js_number(raw) if raw is not None else math.nan
    if math.isnan(number) or not 0 < number <= 10000:
        return 1.0
    return number


def _nationalities(text: str, version: Version) -> tuple[str, ...] | None:
    if not text:
        return None
    # Split, drop empty items, upper-case; no trimming, so `us, gb` is invalid.
    codes = tuple(item.upper() for item in text.split(",") if item)
    if not codes:
        raise Unanswerable("nat names no nationality")
    if any(code not in version.nationalities for code in codes):
        return None
    return codes


def _seed_index(suffix: str, count: int) -> int:
    # parseInt(suffix, 16): a valid hex prefix is enough ("1g" → 1).
    match = _HEX_PREFIX.match(suffix)
    if match is None or int(match.group(), 16) >= count:
        raise Unanswerable("18-character seed names no nationality")
    return int(match.group(), 16)


def _field_set(text: str) -> set[str]:
    return {item.strip().lower() for item in text.split(",")}


def _include(inc: str | None, exc: str | None) -> tuple[str, ...]:
    wanted = _field_set(inc) if inc else set(FIELDS)
    if exc:
        wanted -= _field_set(exc)
    return tuple(field for field in FIELDS if field in wanted)


def _password(text: str | None) -> PasswordSpec | None:
    if not text:
        return None
    items = text.split(",")
    names = [item for item in dict.fromkeys(items) if item in _CHARSETS]
    if not names:
        return None
    low, high = _length_spec(items[-1])
    if math.isnan(low) or not 1 <= low <= 64:
        low = 8
    if math.isnan(high) or not 1 <= high <= 64 or high < low:
        high = 64
    return PasswordSpec("".join(_CHARSETS[name] for name in names), int(low), int(high))


def _length_spec(text: str) -> tuple[float, float]:
    if "-" in text:
        first, _, second = text.partition("-")
        a, b = _parse_int(first), _parse_int(second)
        if math.isnan(a) or math.isnan(b):  # Math.min/max propagate NaN
            return math.nan, math.nan
        return min(a, b), max(a, b)
    single = _parse_int(text)
    return single, single


def _parse_int(text: str) -> float:
    match = re.match(r"\s*[+-]?\d+", text)
    return float(int(match.group())) if match else math.nan
