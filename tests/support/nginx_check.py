"""`nginx -t` of a container gateway config on this machine's nginx.

The routes are pointed at local paths and 127.0.0.1 (`local_routes`), then
loaded inside a minimal main config that includes the vendored mime.types
(`check_routes`), or a whole main config is checked as it is (`nginx_test`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.processes import system_tool

MIME_TYPES = Path(__file__).resolve().parents[1] / "fixtures" / "nginx" / "mime.types"


def find_tool(name: str) -> str | None:
    """A tool on PATH or beside the running interpreter (the venv's bin)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def nginx_binary() -> str:
    """This machine's nginx; the test fails (make install-test installs it) without."""
    nginx = system_tool("nginx")
    if nginx is None:
        pytest.fail("nginx is not installed: make install-test installs it")
    return nginx


def nginx_version() -> tuple[int, ...]:
    """This machine's nginx version, e.g. (1, 22, 1)."""
    result = subprocess.run(
        [nginx_binary(), "-v"], capture_output=True, text=True, check=True, timeout=30
    )
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", result.stderr)
    assert found, result.stderr
    return tuple(int(part) for part in found.groups())


def local_routes(conf: str, tmp: Path, hosts: list[str]) -> str:
    """Point a container config at local paths and 127.0.0.1 so `nginx -t` can load it."""
    for host in hosts:
        conf = re.sub(rf"\bserver {re.escape(host)}:", "server 127.0.0.1:", conf)
    # The images' nginx (stable, 1.28) re-resolves upstream names (`resolve`,
    # open source since 1.27.3); an older local nginx checks the rest.
    conf = re.sub(r"(?m)^\s*resolver .*;$", "", conf)
    if nginx_version() < (1, 27, 3):
        conf = conf.replace(" resolve ", " ")
    # Paths inside the container, mapped to folders under `tmp`.
    directories = (
        "/var/cache/nginx",
        "/usr/share/nginx/html",
        "/var/log/nginx",
        "/tmp",  # noqa: S108
    )
    for directory in directories:
        (tmp / directory.strip("/").replace("/", "_")).mkdir(exist_ok=True)
    pattern = "|".join(re.escape(directory) for directory in directories)

    def local(match: re.Match[str]) -> str:
        return str(tmp / match[1].strip("/").replace("/", "_"))

    return re.sub(rf"(?<![\w/.-])({pattern})(?=[/;\s])", local, conf)


def nginx_test(tmp: Path, main_conf: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of `main_conf`, written to tmp/nginx.conf, with prefix `tmp`."""
    (tmp / "nginx.conf").write_text(main_conf)
    return subprocess.run(
        [nginx_binary(), "-t", "-q", "-e", str(tmp / "error.log"), "-p", str(tmp),
         "-c", str(tmp / "nginx.conf")],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def check_routes(tmp: Path, routes: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of server blocks (`routes`, already local) inside a minimal http{}."""
    (tmp / "routes.conf").write_text(routes)
    return nginx_test(
        tmp,
        f"pid {tmp}/nginx.pid;\nevents {{}}\nhttp {{\n"
        f"  include {MIME_TYPES};\n  include {tmp}/routes.conf;\n}}\n",
    )
