"""ASCII transliteration of names for `<first>.<last>@example.com` emails."""

# ruff: noqa: RUF001  (the look-alike letters are exactly what this table maps)

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Letters NFKD cannot decompose into ASCII, and Persian letters mapped to consonant
# skeletons as production does (`آریا احمدی` → `ary.hmdy`; alef is silent).
_SPECIAL: Final = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "ð": "d",
        "Ј": "J",
        "’": "'",
        "آ": "a",
        "أ": "a",
        "إ": "i",
        "ا": "",
        "ب": "b",
        "پ": "p",
        "ت": "t",
        "ث": "th",
        "ج": "j",
        "چ": "ch",
        "ح": "h",
        "خ": "kh",
        "د": "d",
        "ذ": "dh",
        "ر": "r",
        "ز": "z",
        "ژ": "zh",
        "س": "s",
        "ش": "sh",
        "ص": "s",
        "ض": "d",
        "ط": "t",
        "ظ": "z",
        "ع": "",
        "غ": "gh",
        "ف": "f",
        "ق": "q",
        "ک": "kh",
        "ك": "k",
        "گ": "g",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ه": "h",
        "ة": "h",
        "و": "w",
        "ؤ": "w",
        "ی": "y",
        "ي": "y",
        "ى": "y",
        "ئ": "",
        "ء": "",
        "\u200c": "",
    }
)
_NOT_EMAIL: Final = re.compile(r"[^a-z0-9.'\-]")


def email_part(name: str) -> str:
    """One side of an email local part: ASCII, no spaces, lower case.

    Apostrophes and hyphens survive (`g'zhickiy`, `carl-heinz`), as in production.
    """
    decomposed = unicodedata.normalize("NFKD", name.translate(_SPECIAL))
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    return _NOT_EMAIL.sub("", ascii_only.lower())
