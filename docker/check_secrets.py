"""Refuses docker compose secrets that are unset, placeholders or too short (stdlib only)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

# Every secret compose passes in, and the shortest value it accepts.
MINIMUM_LENGTH: Final = {
    "RABBITMQ_DEFAULT_USER": 1,
    "RABBITMQ_DEFAULT_PASS": 12,
    "MONGO_INITDB_ROOT_PASSWORD": 12,
    "MONGO_APP_PASSWORD": 12,
    "COMMAND_TOKEN": 16,
}
# Secrets only some compose files pass in (docker-compose.cluster.yml's
# cookie): checked when present.
OPTIONAL_MINIMUM_LENGTH: Final = {"RABBITMQ_ERLANG_COOKIE": 20}
# Values no deployment should run with: .env.example's placeholders and the
# well-known defaults.
PLACEHOLDER_MARKERS: Final = ("change-me", "changeme", "placeholder")
WELL_KNOWN: Final = {"guest", "admin", "password", "secret", "root", "example"}


def problems(env: Mapping[str, str]) -> list[str]:
    """One line per unacceptable secret of `env`, naming its variable."""
    found = []
    optional = {n: m for n, m in OPTIONAL_MINIMUM_LENGTH.items() if n in env}
    for name, minimum in {**MINIMUM_LENGTH, **optional}.items():
        value = env.get(name, "")
        lowered = value.lower()
        if not value:
            found.append(f"{name} is not set: put it in .env")
        elif any(marker in lowered for marker in PLACEHOLDER_MARKERS):
            found.append(
                f"{name} is still the placeholder of .env.example: set a secret "
                "of your own in .env (e.g. `openssl rand -hex 24`)"
            )
        elif lowered in WELL_KNOWN:
            found.append(f"{name} is a well-known default ({value!r}): choose another")
        elif len(value) < minimum:
            found.append(f"{name} is shorter than {minimum} characters")
    return found


def main() -> int:
    """Exit 1 after printing every problem, 0 when all secrets are acceptable."""
    found = problems(os.environ)
    for line in found:
        sys.stderr.write(f"refused: {line}\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
