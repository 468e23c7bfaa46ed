"""The local broker's management UI gets its own administrator, never `guest`.

RabbitMQ lets its default `guest` user in from loopback only, and nginx
reaches the management UI from loopback: through nginx, `guest` would work
for anyone who can reach it. So nginx refuses `guest` on /rabbitmq/, and
`make run` creates a dedicated administrator whose generated password is
kept in `.run/rabbitmq-admin` (mode 0600, as `user:password`) and reused
on the next run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from pathlib import Path

ADMIN_USER: Final = "connector-admin"


class ManagementError(RuntimeError):
    """The management API refused or could not be reached."""


@dataclass(frozen=True)
class AdminCredentials:
    """A management UI user and its password."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"AdminCredentials(username={self.username!r}, password='***')"


def _api(
    management_url: str, amqp_url: str, method: str, path: str, body: object = None
) -> None:
    """Call the management API as the user of `amqp_url`."""
    parts = urlsplit(amqp_url)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (a local http URL)
        f"{management_url.rstrip('/')}/api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            return
    except urllib.error.HTTPError as exc:
        raise ManagementError(
            f"RabbitMQ management API: {method} /api/{path} answered {exc.code}"
            f" for user {user!r}"
        ) from None
    except OSError as exc:
        raise ManagementError(f"RabbitMQ management API not reachable: {exc}") from exc


def _vhost(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def read_or_create_password(secret_file: Path, username: str) -> AdminCredentials:
    """The credentials kept in `secret_file`, or new ones written there (0600)."""
    if secret_file.exists():
        stored_user, _, password = secret_file.read_text().strip().partition(":")
        if stored_user == username and password:
            return AdminCredentials(username, password)
    password = secrets.token_urlsafe(24)
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        secret_file.unlink()
    descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"{username}:{password}\n")
    return AdminCredentials(username, password)


def ensure_admin(
    management_url: str,
    amqp_url: str,
    secret_file: Path,
    username: str = ADMIN_USER,
) -> AdminCredentials:
    """Create or update the administrator `username` with the password in
    `secret_file` (generated on first use), allowed everything on the AMQP
    URL's vhost. Idempotent.

    The management API is called with the credentials of `amqp_url`, which
    must be an administrator's (`guest` on a fresh local broker).

    Raises:
        ManagementError: the API could not be reached or refused.
    """
    credentials = read_or_create_password(secret_file, username)
    name = quote(username, safe="")
    _api(
        management_url,
        amqp_url,
        "PUT",
        f"users/{name}",
        {"password": credentials.password, "tags": "administrator"},
    )
    _api(
        management_url,
        amqp_url,
        "PUT",
        f"permissions/{quote(_vhost(amqp_url), safe='')}/{name}",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )
    return credentials


def delete_user(management_url: str, amqp_url: str, username: str) -> None:
    """Delete a management user (tests clean up the ones they create).

    Raises:
        ManagementError: the API could not be reached or refused.
    """
    _api(management_url, amqp_url, "DELETE", f"users/{quote(username, safe='')}")


def enable_management(amqp_url: str) -> bool:
    """Enable the management UI of a local RabbitMQ (idempotent); whether
    that worked (False for a remote broker or without rabbitmq-plugins)."""
    host = urlsplit(amqp_url).hostname or "127.0.0.1"
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None or host not in {"127.0.0.1", "localhost"}:
        return False
    result = subprocess.run(
        [plugins, "enable", "--quiet", "rabbitmq_management"],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return result.returncode == 0
