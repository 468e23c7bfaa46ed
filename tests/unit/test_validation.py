"""Strict mapping of raw upstream users into contracts.User, with drop counts."""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

import orjson
import pytest

from contracts.users import User
from sync_worker.validation import clean_text, validate_users
from tests.support.samples import sample_bytes


def sample_users(name: str) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = orjson.loads(sample_bytes(name))["results"]
    return users


def raw_user(**overrides: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "gender": "female",
        "name": {"title": "Miss", "first": "Jennie", "last": "Nichols"},
        "location": {"country": "United States", "postcode": 63104},
        "email": "jennie.nichols@example.com",
        "login": {"uuid": "7a0eed16-9430-4d68-901f-c0d4c1c3bf00"},
        "nat": "US",
    }
    user.update(overrides)
    return user


def only_user(raw: Any) -> User:
    report = validate_users([raw])
    assert report.dropped_count == 0, report.dropped
    [user] = report.users
    return user


def dropped_reason(raw: Any) -> str:
    report = validate_users([raw])
    assert report.users == []
    [reason] = report.dropped
    return reason


def test_every_user_of_the_111_user_sample_is_kept():
    users = sample_users("v1.4_seed-b92435b8050047da_results-111.json")

    report = validate_users(users)

    assert len(report.users) == 111
    assert report.dropped_count == 0
    assert len({user.country for user in report.users}) == 21


def test_every_user_of_the_v13_samples_is_kept():
    users = sample_users("v1.3_seed-624b47c9006a7219_results-200_nat-us.json")
    users += sample_users("v1.3_seed-dca4d7167be9cb98_results-1_compact.json")

    report = validate_users(users)

    assert len(report.users) == 201
    assert {user.country for user in report.users} == {
        "United States",
        "United Kingdom",
    }


def test_a_user_maps_to_full_name_gender_email_country_and_extras():
    user = only_user(raw_user())

    assert user == User(
        name="Jennie Nichols",
        gender="female",
        email="jennie.nichols@example.com",
        country="United States",
        title="Miss",
        nat="US",
        uuid="7a0eed16-9430-4d68-901f-c0d4c1c3bf00",
    )


def test_persian_names_keep_their_script_and_zero_width_non_joiner():
    users = sample_users("v1.4_seed-b92435b8050047da_results-111.json")
    iranians = [user for user in users if user["nat"] == "IR"]

    report = validate_users(iranians)

    assert len(report.users) == len(iranians) > 0
    for raw, user in zip(iranians, report.users, strict=True):
        assert user.name == f"{raw['name']['first']} {raw['name']['last']}"
        assert user.country == "Iran"


def test_a_zero_width_non_joiner_inside_a_persian_name_is_kept():
    mina = "\u0645\u06cc\u200c\u0646\u0627"  # "Mina", with a ZWNJ
    ahmadi = "\u0627\u062d\u0645\u062f\u06cc"

    user = only_user(raw_user(name={"first": mina, "last": ahmadi}))

    assert user.name == f"{mina} {ahmadi}"


def test_a_numeric_or_string_postcode_does_not_matter():
    for postcode in ("0875", 875):
        user = only_user(raw_user(location={"country": "Norway", "postcode": postcode}))
        assert user.country == "Norway"


def test_hostile_strings_are_kept_as_text_not_escaped():
    user = only_user(
        raw_user(
            name={"first": "<script>alert(1)</script>", "last": 'O\'Brien & "Co"'},
            location={"country": "<img src=x onerror=alert(1)>"},
        )
    )

    assert user.name == '<script>alert(1)</script> O\'Brien & "Co"'
    assert user.country == "<img src=x onerror=alert(1)>"


def test_control_and_bidi_override_characters_are_removed():
    user = only_user(
        raw_user(name={"first": "Jo\x00hn\x1b", "last": "\u202eDoe\u202c\x7f\u200f"})
    )

    assert user.name == "John Doe"


def test_joiners_inside_emoji_sequences_are_kept():
    user = only_user(
        raw_user(name={"first": "Zo\u00eb \U0001f469\u200d\U0001f4bb", "last": "X"})
    )

    assert user.name == "Zo\u00eb \U0001f469\u200d\U0001f4bb X"


def test_whitespace_is_collapsed_and_trimmed():
    user = only_user(raw_user(name={"first": "  Ana\tMaria\n", "last": " da  Silva "}))

    assert user.name == "Ana Maria da Silva"


def test_strings_are_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "Jürgen")

    user = only_user(raw_user(name={"first": decomposed, "last": "Müller"}))

    assert user.name == "Jürgen Müller"
    assert unicodedata.is_normalized("NFC", user.name)


def test_a_lego_user_without_a_country_is_dropped():
    lego = raw_user(nat="LEGO", location={"postcode": 12345})

    assert dropped_reason(lego) == "missing_country"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not a user", "invalid_user"),
        (None, "invalid_user"),
        (raw_user(name=None), "missing_name"),
        (raw_user(name="Jennie Nichols"), "invalid_name"),
        (raw_user(name={"first": "Jennie", "last": 7}), "invalid_name"),
        (raw_user(name={"first": "  ", "last": "\x00"}), "missing_name"),
        (raw_user(gender=None), "missing_gender"),
        (raw_user(gender="Female"), "invalid_gender"),
        (raw_user(gender="other"), "invalid_gender"),
        (raw_user(email=None), "missing_email"),
        (raw_user(email=42), "invalid_email"),
        (raw_user(email="not-an-email"), "invalid_email"),
        (raw_user(email="a b@example.com"), "invalid_email"),
        (raw_user(email="<script>@example.com"), "invalid_email"),
        (raw_user(email="ary@@example.com"), "invalid_email"),
        (raw_user(location=None), "missing_country"),
        (raw_user(location="Berlin, Germany"), "missing_country"),
        (raw_user(location={"country": ["Germany"]}), "invalid_country"),
        (raw_user(location={"country": ""}), "missing_country"),
        (raw_user(name={"first": "A" * 200, "last": "B" * 100}), "too_long_name"),
        (raw_user(location={"country": "C" * 129}), "too_long_country"),
        (raw_user(email="x" * 60 + "@" + "example." * 40 + "com"), "too_long_email"),
    ],
)
def test_a_user_missing_a_field_or_of_the_wrong_type_is_dropped_with_a_reason(
    raw, reason
):
    assert dropped_reason(raw) == reason


def test_upstream_email_quirks_are_accepted():
    for email in (
        "x.'thart@example.com",
        "h.-dieter..k@example.com",
        "'a.b@example.com",
    ):
        assert only_user(raw_user(email=email)).email == email


def test_optional_fields_that_are_unusable_are_left_out_not_fatal():
    user = only_user(
        raw_user(
            name={"title": 5, "first": "A", "last": "B"},
            nat="X" * 20,
            login={"uuid": None},
        )
    )

    assert (user.title, user.nat, user.uuid) == (None, None, None)


def test_drops_are_counted_by_reason_and_the_rest_kept_in_order():
    good = raw_user()
    second = raw_user(email="second@example.com")
    raws = [
        good,
        raw_user(gender="x"),
        raw_user(nat="LEGO", location={}),
        second,
        raw_user(gender=None),
        raw_user(location={}),
    ]

    report = validate_users(raws)

    assert [user.email for user in report.users] == [
        "jennie.nichols@example.com",
        "second@example.com",
    ]
    assert report.dropped == {
        "invalid_gender": 1,
        "missing_gender": 1,
        "missing_country": 2,
    }
    assert report.dropped_count == 4


def test_validation_does_not_change_the_raw_users():
    raws = sample_users("v1.4_seed-6786def1f7fa0850_results-1.json")
    before = copy.deepcopy(raws)

    validate_users(raws)

    assert raws == before


def test_clean_text_leaves_ordinary_text_alone():
    assert clean_text("Émile Zola") == "Émile Zola"
    assert clean_text("Mar'yana Kam'yanka-Buzka") == "Mar'yana Kam'yanka-Buzka"
