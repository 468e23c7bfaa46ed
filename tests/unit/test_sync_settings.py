"""Sync worker settings: defaults, environment parsing and refused combinations."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.settings import load_settings
from sync_worker.settings import SyncWorkerSettings


def test_the_defaults_pin_version_1_4_of_the_public_api():
    settings = SyncWorkerSettings(_env_file=None)

    assert settings.api_url == "https://randomuser.me/api/1.4/"
    assert settings.sync_interval_seconds == 3600
    assert settings.sync_results == 5000
    assert settings.sync_nationalities is None
    assert (settings.health_host, settings.health_port) == ("127.0.0.1", 8301)


def test_latest_requests_the_url_as_given():
    settings = SyncWorkerSettings(
        _env_file=None,
        randomuser_url="http://127.0.0.1:8400/api/",
        randomuser_version="latest",
    )

    assert settings.api_url == "http://127.0.0.1:8400/api/"


def test_a_url_without_a_trailing_slash_still_gets_the_version():
    settings = SyncWorkerSettings(
        _env_file=None,
        randomuser_url="http://sim:8400/api",
        randomuser_version="1.3",
    )

    assert settings.api_url == "http://sim:8400/api/1.3/"


def test_nationalities_come_from_a_comma_list_in_the_environment(monkeypatch):
    monkeypatch.setenv("SYNC_NATIONALITIES", "us, gb,,FR")

    settings = SyncWorkerSettings(_env_file=None)

    assert settings.sync_nationalities == ("US", "GB", "FR")


def test_an_unknown_nationality_is_refused(monkeypatch):
    monkeypatch.setenv("SYNC_NATIONALITIES", "US,XX")

    with pytest.raises(ValidationError, match="sync_nationalities"):
        SyncWorkerSettings(_env_file=None)


def test_a_versioned_url_with_a_pinned_version_is_refused():
    with pytest.raises(ValidationError, match="already names a version"):
        SyncWorkerSettings(
            _env_file=None,
            randomuser_url="https://randomuser.me/api/1.3/",
        )


def test_nationalities_missing_from_version_1_3_are_refused():
    with pytest.raises(ValidationError, match=r"do not exist in version 1\.3"):
        SyncWorkerSettings(
            _env_file=None,
            randomuser_version="1.3",
            sync_nationalities="US,UA",
        )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SYNC_RESULTS", "0"),
        ("SYNC_RESULTS", "20001"),
        ("SYNC_INTERVAL_SECONDS", "-1"),
        ("HTTP_TIMEOUT_SECONDS", "0"),
        ("FETCH_MAX_ATTEMPTS", "0"),
        ("RANDOMUSER_URL", "not a url"),
        ("RANDOMUSER_VERSION", "2.0"),
    ],
)
def test_a_bad_value_exits_2_naming_the_variable(monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    monkeypatch.chdir("/")

    with pytest.raises(SystemExit) as exited:
        load_settings(SyncWorkerSettings)

    assert exited.value.code == 2
    assert variable in capsys.readouterr().err


def test_zero_disables_the_schedule(monkeypatch):
    monkeypatch.setenv("SYNC_INTERVAL_SECONDS", "0")

    assert SyncWorkerSettings(_env_file=None).sync_interval_seconds == 0


def test_sync_max_results_defaults_to_the_public_budget_and_a_25_minute_deadline():
    settings = SyncWorkerSettings(_env_file=None)

    assert settings.sync_max_results == 20_000
    assert settings.sync_deadline_seconds == 1500
    assert settings.fetch_concurrency == 3


def test_a_large_sync_on_the_public_budget_must_fit_its_deadline():
    # 100,000 users at 20,000 per 5 minutes: 4 windows of waiting, 20 minutes.
    fits = SyncWorkerSettings(_env_file=None, sync_max_results=100_000)
    assert fits.sync_max_results == 100_000

    with pytest.raises(ValidationError, match="SYNC_DEADLINE_SECONDS"):
        SyncWorkerSettings(_env_file=None, sync_max_results=200_000)

    lifted = SyncWorkerSettings(
        _env_file=None, sync_max_results=1_000_000, upstream_users_per_window=1_000_000
    )
    assert lifted.sync_max_results == 1_000_000


def test_scheduled_syncs_stay_within_sync_max_results():
    with pytest.raises(ValidationError, match="SYNC_RESULTS"):
        SyncWorkerSettings(_env_file=None, sync_max_results=1_000, sync_results=5_000)
