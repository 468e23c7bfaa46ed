"""A wrong setting stops each real process at start: exit 2, the variable named."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from devstack.readiness import free_port

if TYPE_CHECKING:
    from pathlib import Path

SERVICES = (
    "command_service",
    "sync_worker",
    "query_service",
    "query_service.projector",
)
SECRET = "not-long-enough"

CASES = [
    ("command_service", {"AMQP_URL": "ftp://x"}, "AMQP_URL"),
    ("command_service", {"HTTP_PORT": "99999"}, "HTTP_PORT"),
    ("command_service", {"COMMAND_TOKEN": SECRET}, "COMMAND_TOKEN"),
    ("command_service", {"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
    ("sync_worker", {"SYNC_RESULTS": "0"}, "SYNC_RESULTS"),
    ("sync_worker", {"SYNC_INTERVAL_SECONDS": "-1"}, "SYNC_INTERVAL_SECONDS"),
    ("sync_worker", {"SYNC_NATIONALITIES": "US,XX"}, "SYNC_NATIONALITIES"),
    ("sync_worker", {"RANDOMUSER_URL": "nope"}, "RANDOMUSER_URL"),
    (
        "sync_worker",
        {"RANDOMUSER_URL": "https://randomuser.me/api/1.4/"},
        "RANDOMUSER_URL",
    ),
    ("sync_worker", {"AMQP_URL": "ftp://x"}, "AMQP_URL"),
    ("query_service", {"MONGO_URL": "nope"}, "MONGO_URL"),
    ("query_service", {"HTTP_PORT": "99999"}, "HTTP_PORT"),
    ("query_service", {"MONGO_DATABASE": "a/b"}, "MONGO_DATABASE"),
    ("query_service.projector", {"MONGO_URL": "nope"}, "MONGO_URL"),
    ("query_service.projector", {"GZIP_LEVEL": "0"}, "GZIP_LEVEL"),
    ("query_service.projector", {"AMQP_DELIVERY_LIMIT": "0"}, "AMQP_DELIVERY_LIMIT"),
]


def start(
    module: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run `python -m module` with only `env` set (no .env in `cwd`).

    Dependencies point nowhere and the startup timeout is short, so a
    setting that wrongly passes fails the test in seconds rather than
    serving.
    """
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/",
        "MONGO_URL": "mongodb://127.0.0.1:1/",
        "STARTUP_TIMEOUT_SECONDS": "1",
        "HTTP_PORT": str(free_port()),
        "HEALTH_PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(("module", "env", "variable"), CASES)
def test_a_wrong_setting_stops_the_service_with_exit_2_naming_it(
    module: str, env: dict[str, str], variable: str, tmp_path: Path
) -> None:
    result = start(module, env, tmp_path)

    assert result.returncode == 2, result.stderr
    assert f"{variable}" in result.stderr
    assert result.stderr.startswith("configuration error: ")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize("module", SERVICES)
def test_every_wrong_setting_is_named_one_line_each(
    module: str, tmp_path: Path
) -> None:
    result = start(
        module,
        {"LOG_LEVEL": "LOUD", "SHUTDOWN_TIMEOUT_SECONDS": "-5", "AMQP_URL": "ftp://x"},
        tmp_path,
    )

    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    for variable in ("LOG_LEVEL", "SHUTDOWN_TIMEOUT_SECONDS", "AMQP_URL"):
        assert sum(f"configuration error: {variable}:" in line for line in lines) == 1


def test_a_setting_in_dot_env_is_named_like_one_in_the_environment(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("SYNC_RESULTS=0\n")

    result = start("sync_worker", {}, tmp_path)

    assert result.returncode == 2
    assert "configuration error: SYNC_RESULTS:" in result.stderr
