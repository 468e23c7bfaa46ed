"""One nationality normaliser for the API body, the worker's setting and the CLI."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError

from command_service.routes import SyncCommandBody
from connector_cli.main import nationalities as cli_nationalities
from contracts.commands import (
    NATIONALITIES,
    normalise_nationalities,
    split_nationalities,
)
from sync_worker.settings import SyncWorkerSettings


def test_the_known_codes_are_upstreams_21_in_order() -> None:
    assert len(NATIONALITIES) == 21
    assert list(NATIONALITIES) == sorted(NATIONALITIES)
    assert {"US", "GB", "IR", "UA"} <= set(NATIONALITIES)


@pytest.mark.parametrize(
    ("raw", "codes"),
    [
        ("us,GB", ("US", "GB")),
        (" us , gb ,", ("US", "GB")),
        (",,", ()),
        ("", ()),
    ],
)
def test_a_comma_separated_string_is_split_stripped_and_upper_cased(
    raw: str, codes: tuple[str, ...]
) -> None:
    assert split_nationalities(raw) == codes
    assert normalise_nationalities(raw) == codes


def test_a_sequence_keeps_its_items_and_leaves_non_strings_to_the_validator() -> None:
    assert normalise_nationalities(["us", " gb"]) == ("US", "GB")
    assert normalise_nationalities(["us", 3]) == ("US", 3)
    assert normalise_nationalities(["", "us"]) == ("", "US")
    assert normalise_nationalities(None) is None
    assert normalise_nationalities(7) == 7


def test_every_entry_point_reads_nationalities_the_same_way() -> None:
    body = SyncCommandBody.model_validate({"nationalities": ["us", "Gb"]})
    settings = SyncWorkerSettings(_env_file=None, sync_nationalities="us,Gb")
    assert body.nationalities == settings.sync_nationalities == ("US", "GB")
    assert cli_nationalities("us,Gb") == ("US", "GB")


def test_every_entry_point_refuses_an_unknown_code_by_name() -> None:
    with pytest.raises(ValidationError, match="nationalities"):
        SyncCommandBody.model_validate({"nationalities": ["us", "xx"]})
    with pytest.raises(ValidationError, match="sync_nationalities"):
        SyncWorkerSettings(_env_file=None, sync_nationalities="us,xx")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown XX"):
        cli_nationalities("us,xx")


def test_the_api_refuses_a_string_where_it_documents_an_array() -> None:
    with pytest.raises(ValidationError, match="nationalities"):
        SyncCommandBody.model_validate({"nationalities": "US,GB"})
