"""Per-nationality phone, cell, id and postcode formats (RANDOMUSER-API.md 3.4, 10.1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Final, TypeAlias

from randomuser_sim import ids
from randomuser_sim.draws import Rand, Shape, between, digits, fill, letter, pick
from randomuser_sim.lists import NO_POSTCODES

Extras: TypeAlias = tuple[str, str, str, str | None, int | str]
"""The nationality-specific part of one user: phone, cell, id name, id value, postcode.

A plain tuple: building a NamedTuple per user costs a Python-level call.
"""

ExtrasFn: TypeAlias = Callable[[Rand, bool, date, str, int], Extras]
"""(rand, male, dob, last name, the generic 10000-99999 postcode draw) → Extras."""

_GB_PHONES: Final = tuple(
    Shape(template)
    for template in (
        "01ddd ddddd",
        "01ddd dddddd",
        "011dddd ddd dddd",
        "01d1 ddd dddd",
        "013873 ddddd",
        "015242 ddddd",
        "015394 ddddd",
        "015395 ddddd",
        "015396 ddddd",
        "016973 ddddd",
        "016974 ddddd",
        "016977 dddd",
        "016977 ddddd",
        "017683 ddddd",
        "017684 ddddd",
        "017687 ddddd",
        "019467 ddddd",
        "02d dddd dddd",
    )
)
_GB_POSTCODES: Final = (
    "Ad dCC",
    "AAd dCC",
    "Add dCC",
    "AAdd dCC",
    "AAdA dCC",
    "AdA dCC",
)
_GB_LETTERS: Final = {"A": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "C": "ABDEFGHJLNPQRSTUWXYZ"}
_CH_PREFIXES: Final = ("075", "076", "077", "078", "079")
_UA_PREFIXES: Final = ("66", "67", "68", "96", "97", "98", "99")
_FI_ODD: Final = (1, 3, 5, 7, 9)
_FI_EVEN: Final = (0, 2, 4, 6, 8)
_NO_ID: Final[tuple[str, None]] = ("", None)

_AU_PHONE, _AU_CELL = Shape("0d-dddd-dddd"), Shape("04dd-ddd-ddd")
_BR_PHONE, _BR_CPF = Shape("(dd) dddd-dddd"), Shape("ddd.ddd.ddd-dd")
_CH_NUMBER, _CH_AVS = Shape("ddd dd dd"), Shape("756.dddd.dddd.dd")
_DE_PHONE, _DE_CELL = Shape("0ddd-ddddddd"), Shape("017d-ddddddd")
_ES_PHONE, _ES_CELL = Shape("9dd-ddd-ddd"), Shape("6dd-ddd-ddd")
_FI_PHONE, _FI_CELL = Shape("ddd-ddd"), Shape("04d-ddd-dd-dd")
_FR_PHONE = Shape("dd-dd-dd-dd")
_GB_CELL = Shape("07ddd dddddd")
_IE_LINE = Shape("ddd-dddd")
_IR_PHONE, _IR_CELL = Shape("0dd-dddddddd"), Shape("09dd-ddd-dddd")
_MX_PHONE, _MX_NSS = Shape("(6dd) ddd dddd"), Shape("dd dd dd dddd d")
_NL_PHONES = (Shape("(0dd) ddddddd"), Shape("(0ddd) dddddd"))
_NL_CELL = Shape("(06) dddddddd")
_DASHED = Shape("(ddd)-ddd-dddd")
_RS_PHONE, _RS_CELL = Shape("d-dddd-ddd"), Shape("06d-dddd-ddd")
_UA_NUMBER = Shape("dd-dddd")
_US_LINE = Shape("dd-dddd")


def _au(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_AU_PHONE(r), _AU_CELL(r), "TFN", digits(r, 9), between(r, 200, 9999))


def _br(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_BR_PHONE(r), _BR_PHONE(r), "CPF", _BR_CPF(r), postcode)


def _ca_number(r: Rand) -> str:
    return f"{letter(r)}{digits(r, 2)} {letter(r)}{digits(r, 2)}-{digits(r, 4)}"


def _ca_postcode(r: Rand) -> str:
    return (
        f"{letter(r)}{digits(r, 1)}{letter(r)} {digits(r, 1)}{letter(r)}{digits(r, 1)}"
    )


def _ca(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_ca_number(r), _ca_number(r), "SIN", ids.ca_sin(r), _ca_postcode(r))


def _ch(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    code = between(r, 1000, 9999)
    phone = f"{pick(r, _CH_PREFIXES)} {_CH_NUMBER(r)}"
    cell = f"{pick(r, _CH_PREFIXES)} {_CH_NUMBER(r)}"
    return (phone, cell, "AVS", _CH_AVS(r), code)


def _de(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    svnr = ids.de_svnr(r, dob, male=male, last=last)
    return (_DE_PHONE(r), _DE_CELL(r), "SVNR", svnr, postcode)


def _dk(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (digits(r, 8), digits(r, 8), "CPR", ids.dk_cpr(r, dob), postcode)


def _es(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    dni = f"{digits(r, 8)}-{letter(r)}"
    return (_ES_PHONE(r), _ES_CELL(r), "DNI", dni, postcode)


def _fi(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = f"0{between(r, 2, 9)}-{_FI_PHONE(r)}"
    # Production parses the dob object as a date, gets NaN, and prints what follows.
    hetu = f"NaNNA{digits(r, 2)}{pick(r, _FI_ODD if male else _FI_EVEN)}undefined"
    return (phone, _FI_CELL(r), "HETU", hetu, postcode)


def _fr(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = f"0{between(r, 1, 5)}-{_FR_PHONE(r)}"
    cell = f"06-{_FR_PHONE(r)}"
    return (phone, cell, "INSEE", ids.fr_insee(r, dob, male=male), postcode)


def _gb(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = pick(r, _GB_PHONES)(r)
    code = fill(r, pick(r, _GB_POSTCODES), _GB_LETTERS)
    return (phone, _GB_CELL(r), "NINO", ids.gb_nino(r), code)


def _ie(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = f"0{between(r, 1, 7)}1-{_IE_LINE(r)}"
    cell = f"081-{_IE_LINE(r)}"
    return (phone, cell, "PPS", f"{digits(r, 7)}T", postcode)


def _in(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = f"{between(r, 7, 9)}{digits(r, 9)}"
    cell = f"{between(r, 7, 9)}{digits(r, 9)}"
    return (phone, cell, "UIDAI", digits(r, 12), postcode)


def _ir(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_IR_PHONE(r), _IR_CELL(r), *_NO_ID, postcode)


def _mx(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_MX_PHONE(r), _MX_PHONE(r), "NSS", _MX_NSS(r), postcode)


def _nl(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    # Production's "Dutch standard" variant (8.4): both phone shapes are built.
    phones = (_NL_PHONES[0](r), _NL_PHONES[1](r))
    phone = pick(r, phones)
    cell, bsn = _NL_CELL(r), digits(r, 8)
    code = f"{digits(r, 4)} {letter(r)}{letter(r)}"
    return (phone, cell, "BSN", bsn, code)


def _no(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = f"{pick(r, '235678')}{digits(r, 7)}"
    cell = f"{pick(r, '49')}{digits(r, 7)}"
    fn = ids.no_fodselsnummer(r, dob, male=male)
    return (phone, cell, "FN", fn, pick(r, NO_POSTCODES))


def _nz_tr(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_DASHED(r), _DASHED(r), *_NO_ID, postcode)


def _rs(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone = f"0{pick(r, '123')}{_RS_PHONE(r)}"
    return (phone, _RS_CELL(r), "SID", digits(r, 9), postcode)


def _ua_number(r: Rand) -> str:
    return f"(0{pick(r, _UA_PREFIXES)}) {letter(r)}{_UA_NUMBER(r)}"


def _ua(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_ua_number(r), _ua_number(r), *_NO_ID, postcode)


def _us_number(r: Rand) -> str:
    # `(Ndd) Ndd-dddd`: N is 2-9.
    return f"({between(r, 2, 9)}{digits(r, 2)}) {between(r, 2, 9)}{_US_LINE(r)}"


def _us(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_us_number(r), _us_number(r), "SSN", ids.us_ssn(r), postcode)


def _lego(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_DASHED(r), _DASHED(r), "SN", digits(r, 12), postcode)


EXTRAS_V14: Final[dict[str, ExtrasFn]] = {
    "AU": _au,
    "BR": _br,
    "CA": _ca,
    "CH": _ch,
    "DE": _de,
    "DK": _dk,
    "ES": _es,
    "FI": _fi,
    "FR": _fr,
    "GB": _gb,
    "IE": _ie,
    "IN": _in,
    "IR": _ir,
    "MX": _mx,
    "NL": _nl,
    "NO": _no,
    "NZ": _nz_tr,
    "RS": _rs,
    "TR": _nz_tr,
    "UA": _ua,
    "US": _us,
    "LEGO": _lego,
}


# Version 1.3 (10.1): no id for BR, CA, DE; older phone shapes; a broken INSEE; any
# SSN; and NL as the 1.3-era production samples show it (numeric postcode).
_CA13_NUMBER, _GB13_CELL = Shape("ddd-ddd-dddd"), Shape("07dd-ddd-ddd")
_US13_SSN = Shape("ddd-dd-dddd")


def _br13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone, cell, _, _, code = _br(r, male, dob, last, postcode)
    return (phone, cell, *_NO_ID, code)


def _ca13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_CA13_NUMBER(r), _CA13_NUMBER(r), *_NO_ID, _ca_postcode(r))


def _de13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_DE_PHONE(r), _DE_CELL(r), *_NO_ID, postcode)


def _fr13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone, cell, name, _, code = _fr(r, male, dob, last, postcode)
    insee = f"{1 if male else 2}NNaN{digits(r, 8)} {digits(r, 1)}{between(r, 0, 7)}"
    return (phone, cell, name, insee, code)


def _gb13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone, _, name, nino, code = _gb(r, male, dob, last, postcode)
    return (phone, _GB13_CELL(r), name, nino, code)


def _nl13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_DASHED(r), _DASHED(r), "BSN", digits(r, 8), postcode)


def _us13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    return (_DASHED(r), _DASHED(r), "SSN", _US13_SSN(r), postcode)


def _lego13(r: Rand, male: bool, dob: date, last: str, postcode: int) -> Extras:
    phone, cell, _, serial, code = _lego(r, male, dob, last, postcode)
    return (phone, cell, "serial#", serial, code)


EXTRAS_V13: Final[dict[str, ExtrasFn]] = {
    **{
        code: fn
        for code, fn in EXTRAS_V14.items()
        if code not in ("IN", "MX", "RS", "UA")
    },
    "BR": _br13,
    "CA": _ca13,
    "DE": _de13,
    "FR": _fr13,
    "GB": _gb13,
    "NL": _nl13,
    "US": _us13,
    "LEGO": _lego13,
}
