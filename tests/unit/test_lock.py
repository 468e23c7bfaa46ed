"""requirements.lock pins every dependency pyproject.toml declares, within its range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def pins() -> dict[str, tuple[str, str]]:
    """Locked name → (version, marker)."""
    found: dict[str, tuple[str, str]] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)(?:\s*;\s*(.*))?$", line)
        if match:
            found[canonicalize_name(match[1])] = (match[2], match[3] or "")
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]
    names = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        names += extra
    return [Requirement(name) for name in names]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    environment = {key: str(value) for key, value in default_environment().items()} | {
        "python_version": "3.11"
    }
    for requirement in declared():
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run `make lock`"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, pyproject.toml wants "
            f"{requirement.specifier}: run `make lock`"
        )


def test_the_lock_was_made_by_the_makefile_command() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    command = re.search(r"^LOCK_COMMAND = (.*)$", makefile, re.MULTILINE)
    assert command is not None
    expected = command[1].replace(" --quiet", "").replace("$(LOCK)", LOCK.name)
    assert f"#    {expected}\n" in LOCK.read_text(encoding="utf-8")


def test_make_the_dockerfile_and_ci_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install -q (.*)-e", makefile)
    assert installs
    assert all("-c $(LOCK)" in install for install in installs), installs
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--constraint requirements.lock" in dockerfile
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
    # Exact pins only: the same versions on every machine and in every image.
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            assert "==" in line, line
