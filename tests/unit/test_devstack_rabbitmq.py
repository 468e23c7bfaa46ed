"""`make run`'s RabbitMQ administrator: a generated password, kept private, reused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devstack.rabbitmq import AdminCredentials, read_or_create_password

if TYPE_CHECKING:
    from pathlib import Path


def test_the_password_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    secret = tmp_path / "run" / "rabbitmq-admin"

    first = read_or_create_password(secret, "connector-admin")
    again = read_or_create_password(secret, "connector-admin")

    assert first == again
    assert len(first.password) >= 32
    assert secret.read_text() == f"connector-admin:{first.password}\n"
    assert secret.stat().st_mode & 0o777 == 0o600


def test_each_new_file_gets_a_new_password(tmp_path: Path) -> None:
    one = read_or_create_password(tmp_path / "a", "connector-admin")
    two = read_or_create_password(tmp_path / "b", "connector-admin")

    assert one.password != two.password


def test_a_file_for_another_user_is_replaced(tmp_path: Path) -> None:
    secret = tmp_path / "rabbitmq-admin"
    secret.write_text("someone-else:their-password\n")

    credentials = read_or_create_password(secret, "connector-admin")

    assert credentials.password != "their-password"
    assert secret.read_text().startswith("connector-admin:")
    assert secret.stat().st_mode & 0o777 == 0o600


def test_the_password_never_shows_in_a_repr() -> None:
    credentials = AdminCredentials("connector-admin", "s3cret-value")

    assert "s3cret-value" not in repr(credentials)
