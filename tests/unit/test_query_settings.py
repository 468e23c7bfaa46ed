"""Settings of the query replica and the projector."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.settings import load_settings
from query_service.settings import ProjectorSettings, QuerySettings


def test_the_replica_defaults_match_the_documented_ones():
    settings = QuerySettings(_env_file=None)

    assert str(settings.mongo_url) == "mongodb://127.0.0.1:27017/?directConnection=true"
    assert settings.mongo_database == "randomuser"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8101)
    assert settings.snapshot_poll_seconds == 0.25
    assert settings.cache_max_age_seconds == 0


def test_the_projector_defaults_match_the_documented_ones():
    settings = ProjectorSettings(_env_file=None)

    assert (settings.health_host, settings.health_port) == ("127.0.0.1", 8201)
    assert settings.snapshots_kept == 48
    assert settings.mongo_timeout_seconds == 2.0


def test_settings_come_from_the_plain_upper_case_environment(monkeypatch):
    monkeypatch.setenv("MONGO_URL", "mongodb://db.internal:27017/")
    monkeypatch.setenv("MONGO_DATABASE", "people")
    monkeypatch.setenv("SNAPSHOTS_KEPT", "5")

    settings = ProjectorSettings(_env_file=None)

    assert settings.mongo_url.hosts()[0]["host"] == "db.internal"
    assert (settings.mongo_database, settings.snapshots_kept) == ("people", 5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGO_URL", "http://not-mongo"),
        ("MONGO_DATABASE", "has space"),
        ("SNAPSHOTS_KEPT", "0"),
        ("SNAPSHOT_POLL_SECONDS", "-1"),
        ("HTTP_PORT", "70000"),
    ],
)
def test_a_bad_value_stops_with_exit_2_naming_the_variable(
    monkeypatch, capsys, name, value
):
    monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as stopped:
        load_settings(QuerySettings if name != "SNAPSHOTS_KEPT" else ProjectorSettings)

    assert stopped.value.code == 2
    assert name in capsys.readouterr().err


def test_a_validation_error_is_raised_when_built_directly():
    with pytest.raises(ValidationError):
        QuerySettings(_env_file=None, status_history=0)
