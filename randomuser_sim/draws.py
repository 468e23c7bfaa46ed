"""Small random-draw helpers over one seeded stream (digits, letters, templates)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, TypeAlias, TypeVar

T = TypeVar("T")

Rand: TypeAlias = Callable[[], float]
"""A uniform draw in [0, 1) from the request's seeded stream."""

UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TEN: Final = tuple(10**n for n in range(16))
_ZERO_PADDED: Final = tuple(f"%0{n}d" for n in range(16))


def digits(rand: Rand, n: int) -> str:
    """`n` (at most 15) random decimal digits, leading zeros kept, from one draw."""
    return _ZERO_PADDED[n] % int(rand() * _TEN[n])


def between(rand: Rand, low: int, high: int) -> int:
    """A uniform integer in [low, high], one draw."""
    return low + int(rand() * (high - low + 1))


def pick(rand: Rand, items: Sequence[T]) -> T:
    """A uniform element of `items`, one draw."""
    return items[int(rand() * len(items))]


def letter(rand: Rand, alphabet: str = UPPER) -> str:
    """One character of `alphabet`, one draw."""
    return alphabet[int(rand() * len(alphabet))]


class Shape:
    """A digit template such as `0d-dddd-dddd`: every `d` becomes a random digit.

    All digits come from one draw (at most 15 per shape), which keeps a user cheap.
    """

    __slots__ = ("_count", "_pattern")

    def __init__(self, template: str) -> None:
        self._count = template.count("d")
        if self._count > 15:
            raise ValueError(f"more than 15 digits in {template!r}")
        self._pattern = template.replace("%", "%%").replace("d", "%s")

    def __call__(self, rand: Rand) -> str:
        """A fresh random filling of the template."""
        return self._pattern % tuple(digits(rand, self._count))


def fill(rand: Rand, template: str, letters: dict[str, str]) -> str:
    """Replace each `d` in `template` by a digit and each key of `letters` by one of
    its characters; everything else is copied.
    """
    out = []
    for char in template:
        if char == "d":
            out.append(str(int(rand() * 10)))
        elif char in letters:
            out.append(letter(rand, letters[char]))
        else:
            out.append(char)
    return "".join(out)
