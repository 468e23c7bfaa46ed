"""docker compose's and the Helm chart's gateway, run by real nginx before the stack.

Neither Docker nor Kubernetes runs here, so each test does what the gateway
image does: nginx as an unprivileged user with docker/nginx/nginx.conf, the
routes of docker/nginx/default.conf.template (compose) or of the chart's
gateway ConfigMap (Helm), and a document root laid out as the Dockerfile's
`gateway` stage lays it out (web/ plus Swagger UI's files). Only host names,
ports and paths are changed so that they point at this machine, and the
compose template's two variables are replaced in Python rather than by the
image's envsubst entrypoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import aiohttp
import pytest
import yaml
from playwright.async_api import expect

from devstack.config import swagger_ui_dir
from devstack.gateway_values import SNAPSHOT_FILES_MOUNT
from devstack.readiness import free_port
from tests.e2e.conftest import ARTIFACTS
from tests.support.browser import chromium, record_problems
from tests.support.eventually import eventually, wait_until
from tests.support.nginx_check import nginx_binary
from tests.support.request_ids import assert_every_response_has_its_own_ids

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import StackClient

ROOT: Final = Path(__file__).resolve().parents[2]
DOCKERFILE: Final = ROOT / "Dockerfile"
CHART: Final = ROOT / "deploy" / "helm" / "randomuser-connector"
Variant = Literal["compose", "helm"]
CONTAINER_ROOT: Final = "/usr/share/nginx/html"
SWAGGER_STATIC: Final = "/opt/swagger-ui-py/swagger_ui/static/"
# The load balancer in front of the gateway in these tests: the test client
# itself, on loopback. Its X-Forwarded-For names the real client.
TRUSTED_PROXY: Final = "127.0.0.1/32"


@dataclass(frozen=True)
class Gateway:
    variant: Variant
    base_url: str
    run_dir: Path


def gateway_stage_copies() -> list[tuple[str | None, list[str], str]]:
    """(source stage or None, sources, destination) of each COPY of the
    Dockerfile's `gateway` stage."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stage = text.split(" AS gateway\n", 1)[1].split("\nFROM ", 1)[0]
    copies = []
    for line in stage.splitlines():
        if not line.startswith("COPY "):
            continue
        words = line.split()[1:]
        source_stage = None
        if words[0].startswith("--from="):
            source_stage = words.pop(0).removeprefix("--from=")
        copies.append((source_stage, words[:-1], words[-1]))
    return copies


def build_document_root(root: Path) -> None:
    """The gateway image's /usr/share/nginx/html, built from the same sources."""
    for source_stage, sources, destination in gateway_stage_copies():
        if not destination.startswith(CONTAINER_ROOT):
            continue  # nginx.conf: read from the repository directly
        target = root / destination.removeprefix(CONTAINER_ROOT).strip("/")
        target.mkdir(parents=True, exist_ok=True)
        for source in sources:
            if source_stage == "swagger-ui":
                assert source.startswith(SWAGGER_STATIC), source
                local = swagger_ui_dir() / source.removeprefix(SWAGGER_STATIC)
                assert local.is_file(), f"swagger-ui-py has no {local.name}"
                shutil.copy(local, target / local.name)
            else:
                assert source_stage is None, f"unexpected stage {source_stage}"
                shutil.copytree(ROOT / source, target, dirs_exist_ok=True)


def point_at_this_machine(routes: str, servers: dict[str, list[str]]) -> str:
    """Upstream names (resolved by Docker DNS or the cluster's) to local addresses.

    The local nginx may predate 1.27.3, which resolves `server ... resolve`
    in open source nginx; each such line becomes fixed local servers, and the
    resolver line goes (its server does not exist here).
    """

    def local(match: re.Match[str]) -> str:
        host = match["host"]
        addresses = next(
            (found for name, found in servers.items() if host.startswith(name)), None
        )
        assert addresses is not None, f"an unmapped upstream {host}"
        return "".join(
            f"{match['indent']}server {address} {match['options']};\n"
            for address in addresses
        )

    routes = re.sub(
        r"(?m)^(?P<indent>[ \t]*)server (?P<host>[a-z][\w.-]*):\d+ resolve (?P<options>[^;]*);\n",
        local,
        routes,
    )
    return re.sub(r"(?m)^[ \t]*resolver .*;$", "", routes)


def local_servers(stack: StackClient) -> dict[str, list[str]]:
    config = stack.stack.config
    return {
        "query": [f"127.0.0.1:{port}" for port in config.query_ports],
        "rel-randomuser-connector-query": [
            f"127.0.0.1:{port}" for port in config.query_ports
        ],
        "command-service": [f"127.0.0.1:{config.command_port}"],
        "rel-randomuser-connector-command": [f"127.0.0.1:{config.command_port}"],
        "rabbitmq": [config.rabbitmq_management],
    }


def compose_routes(stack: StackClient, port: int) -> str:
    routes = (ROOT / "docker" / "nginx" / "default.conf.template").read_text()
    for name, value in (
        ("NGINX_COMMANDS_RATE", "50r/s"),
        ("NGINX_COMMANDS_BURST", "50"),
        ("NGINX_TRUSTED_PROXIES", TRUSTED_PROXY),
    ):
        routes = routes.replace(f"${{{name}}}", value)
    routes = point_at_this_machine(routes, local_servers(stack))
    return routes.replace("listen 8080 ", f"listen 127.0.0.1:{port} ")


def helm_routes(stack: StackClient, port: int) -> str:
    helm = Path(sys.executable).parent / "helm"
    if not helm.is_file():
        pytest.fail("helm is not installed: run `make test` (it installs it)")
    rendered = subprocess.run(
        [
            str(helm),
            "template",
            "rel",
            str(CHART),
            "--namespace",
            "ns",
            "--show-only",
            "templates/gateway-configmap.yaml",
            "--set",
            "gateway.commandsRate=50r/s",
            "--set",
            "gateway.commandsBurst=50",
            "--set",
            f"gateway.realIp.trustedProxies={{{TRUSTED_PROXY}}}",
            "--set",
            "rabbitmq.url=amqp://u:p@rabbitmq:5672/",
            "--set",
            "mongodb.url=mongodb://u:p@mongo:27017/",
            "--set",
            "commandToken=helm-test-token-0123456789",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    routes = str(yaml.safe_load(rendered.stdout)["data"]["default.conf"])
    routes = point_at_this_machine(routes, local_servers(stack))
    return routes.replace("listen 8080 ", f"listen 127.0.0.1:{port} ")


def local_paths(conf: str, run_dir: Path) -> str:
    """Container paths to folders of `run_dir`."""
    for container, local in (
        ("/tmp/", f"{run_dir}/tmp/"),  # noqa: S108 - a path inside the container
        ("/etc/nginx/conf.d", run_dir / "conf.d"),
        (CONTAINER_ROOT, run_dir / "html"),
        ("/var/cache/nginx", run_dir / "cache"),
        ("/var/log/nginx", run_dir / "logs"),
        ("/dev/stdout", run_dir / "logs" / "access.log"),
        ("/dev/stderr", run_dir / "logs" / "error.log"),
    ):
        conf = conf.replace(container, str(local))
    return conf


@contextlib.contextmanager
def running_gateway(
    variant: Variant, stack: StackClient, *, trusted_proxy: str = TRUSTED_PROXY
) -> Iterator[Gateway]:
    """The gateway of `variant` as its image runs it, in front of `stack`."""
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix=f"gateway-{variant}-"))
    for sub in ("conf.d", "html", "cache", "logs", "tmp"):
        (run_dir / sub).mkdir()
    build_document_root(run_dir / "html")
    routes = (compose_routes if variant == "compose" else helm_routes)(stack, port)
    routes = routes.replace(
        f"set_real_ip_from {TRUSTED_PROXY};", f"set_real_ip_from {trusted_proxy};"
    )
    assert re.search(r"server [a-z][\w.-]*:\d+", routes) is None, "an unmapped host"
    # The volume of the projector's snapshot files: the stack's own folder.
    files = stack.stack.config.snapshot_files_dir
    assert files is not None
    routes = routes.replace(SNAPSHOT_FILES_MOUNT, str(files))
    (run_dir / "conf.d" / "default.conf").write_text(local_paths(routes, run_dir))
    main = (ROOT / "docker" / "nginx" / "nginx.conf").read_text()
    (run_dir / "nginx.conf").write_text(local_paths(main, run_dir))
    # Like the image: nginx's master runs unprivileged (uid 101 there), reads
    # root's files through their mode bits and writes only its own folders.
    user = "nobody" if os.geteuid() == 0 else None
    if user is not None:
        run_dir.chmod(0o755)
        nobody = pwd.getpwnam(user)
        for sub in ("cache", "logs", "tmp"):
            os.chown(run_dir / sub, nobody.pw_uid, nobody.pw_gid)
    nginx = nginx_binary()
    with (run_dir / "logs" / "nginx.out").open("wb") as out:
        process = subprocess.Popen(
            [
                nginx,
                "-p",
                str(run_dir),
                "-c",
                str(run_dir / "nginx.conf"),
                "-e",
                str(run_dir / "logs" / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            user=user,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: _healthy(base_url, process, run_dir),
            timeout=15,
            what="the gateway's /nginx-health",
        )
        yield Gateway(variant, base_url, run_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module", params=["compose", "helm"])
def gateway(request: pytest.FixtureRequest, stack: StackClient) -> Iterator[Gateway]:
    with running_gateway(request.param, stack) as running:
        yield running


def _healthy(base_url: str, process: subprocess.Popen[bytes], run_dir: Path) -> bool:
    """Whether nginx answers /nginx-health; raises at once when it exited."""
    if process.poll() is not None:
        output = (run_dir / "logs" / "nginx.out").read_text()
        raise RuntimeError(f"nginx exited {process.returncode}: {output}")
    health = f"{base_url}/nginx-health"
    with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310 - http
        return bool(response.status == 200)


async def test_gateway_serves_the_dashboard_and_the_api_docs(gateway: Gateway):
    async with aiohttp.ClientSession(base_url=gateway.base_url) as session:
        async with session.get("/") as response:
            assert response.status == 200
            assert '<select id="country"' in await response.text()
        async with session.get("/docs", allow_redirects=False) as response:
            assert response.status == 301
            assert response.headers["Location"] == "/docs/"
        async with session.get("/docs/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            assert "/docs/swagger-ui/swagger-ui-bundle.js" in await response.text()
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self';" in csp
            assert "unsafe" not in csp
        for path, content_type in (
            ("/docs/swagger-ui/swagger-ui-bundle.js", "application/javascript"),
            ("/docs/swagger-ui/swagger-ui.css", "text/css"),
            ("/docs/docs.js", "application/javascript"),
        ):
            async with session.get(path) as response:
                assert response.status == 200, path
                assert response.content_type == content_type, path
        async with session.get("/docs/swagger-ui/missing.js") as response:
            assert response.status == 404


async def test_gateway_routes_commands_and_reads_to_the_services(
    gateway: Gateway, stack: StackClient
):
    async with aiohttp.ClientSession(base_url=gateway.base_url) as session:
        for path in ("/commands/openapi.json", "/queries/openapi.json"):
            async with session.get(path) as response:
                assert response.status == 200, path
                assert (await response.json())["openapi"] == "3.1.0"
        async with session.post(
            "/commands/sync",
            json={"results": 40, "seed": f"gateway-{gateway.variant}"},
            headers=stack.auth,
        ) as response:
            assert response.status == 202, await response.text()
            command_id = (await response.json())["command_id"]
        attempt = await stack.attempt_of(command_id)
        assert attempt["state"] == "promoted", attempt

        async def served(session: aiohttp.ClientSession) -> dict[str, Any] | None:
            # Cache-Control: no-cache passes nginx's one-second micro-cache.
            async with session.get(
                "/queries/countries", headers={"Cache-Control": "no-cache"}
            ) as response:
                assert response.status == 200
                body: dict[str, Any] = await response.json()
                return body if body["snapshot"]["id"] == attempt["sync_id"] else None

        through_gateway = await eventually(
            lambda: served(session), what="the new snapshot via the gateway"
        )
        async with aiohttp.ClientSession(base_url=stack.replica_urls[0]) as replica:
            direct = await eventually(
                lambda: served(replica), what="the new snapshot on a replica"
            )
        assert through_gateway == direct
        async with session.post("/commands/sync", json={}) as response:
            assert response.status == 401
            assert response.content_type == "application/problem+json"


async def test_gateway_gives_every_response_its_own_ids(gateway: Gateway):
    await assert_every_response_has_its_own_ids(gateway.base_url)


async def test_swagger_ui_shows_both_apis_behind_the_gateway(gateway: Gateway):
    problems: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page(base_url=gateway.base_url)
        record_problems(page, problems)
        await page.goto("/docs")
        await expect(
            page.get_by_text("/queries/countries/{name}/users", exact=True)
        ).to_be_visible()
        await page.get_by_role("link", name="Command API").click()
        await expect(page.get_by_text("/commands/sync", exact=True)).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=ARTIFACTS / f"gateway-{gateway.variant}-docs.png")
    assert problems == [], "\n".join(problems)


# Requests whose answers must agree, route by route, between the local gateway
# (make run) and the container gateways: (method, path, headers, body).
AGREEMENT: Final = [
    ("GET", "/", {}, None),
    ("GET", "/app.js", {}, None),
    ("GET", "/no-such-file", {}, None),
    ("GET", "/.env", {}, None),
    ("GET", "/nginx-health", {}, None),
    ("GET", "/docs", {}, None),
    ("GET", "/docs/", {}, None),
    ("POST", "/", {}, b"{}"),
    ("POST", "/docs/", {}, b"{}"),
    ("POST", "/queries/countries", {}, b"{}"),
    ("DELETE", "/queries/sync-status", {}, None),
    ("GET", "/queries/sync-status", {}, None),
    ("GET", "/queries/no-such-route", {}, None),
    ("GET", "/commands/sync", {}, None),
    ("POST", "/commands/sync", {}, b"{}"),
    ("POST", "/commands/sync", {"Content-Type": "application/json"}, b"x" * 20_000),
]
COMPARED_HEADERS: Final = (
    "Content-Type",
    "Allow",
    "Location",
    "Cache-Control",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Cross-Origin-Resource-Policy",
    "Strict-Transport-Security",
    "Server",
)


async def _answer(
    session: aiohttp.ClientSession,
    base_url: str,
    request: tuple[str, str, dict[str, str], bytes | None],
) -> dict[str, Any]:
    method, path, headers, body = request
    async with session.request(
        method, base_url + path, headers=headers, data=body, allow_redirects=False
    ) as response:
        text = await response.read()
        answer: dict[str, Any] = {
            "status": response.status,
            **{name: response.headers.get(name) for name in COMPARED_HEADERS},
            "has ids": "X-Request-ID" in response.headers
            and "X-Correlation-ID" in response.headers,
        }
        if response.content_type == "application/problem+json":
            answer["body"] = json.loads(text)
        return answer


async def test_every_gateway_answers_like_the_local_one_route_by_route(
    gateway: Gateway, stack: StackClient
):
    async with aiohttp.ClientSession() as session:
        for request in AGREEMENT:
            local = await _answer(session, stack.base_url, request)
            container = await _answer(session, gateway.base_url, request)
            assert container == local, (gateway.variant, request[:2])
            if request[0] not in ("GET", "HEAD") and local["status"] == 405:
                assert local.get("body", {}).get("status") == 405, (request, local)
                assert local["Allow"], request


async def test_nginx_refusals_are_problem_json(gateway: Gateway):
    async with aiohttp.ClientSession(base_url=gateway.base_url) as session:
        for method, path, status in (
            ("POST", "/queries/countries", 405),
            ("PUT", "/docs/", 405),
            ("TRACE", "/", 405),
        ):
            async with session.request(method, path) as response:
                assert response.status == status, (method, path)
                assert response.content_type == "application/problem+json"
                assert (await response.json())["status"] == status


async def _statuses(
    session: aiohttp.ClientSession, base_url: str, client: str | None, count: int
) -> list[int]:
    headers = {} if client is None else {"X-Forwarded-For": client}

    async def one() -> int:
        async with session.post(
            f"{base_url}/commands/sync", data=b"{}", headers=headers
        ) as response:
            await response.read()
            if response.status == 429:
                # nginx's own refusal, problem+json like the service's.
                assert response.content_type == "application/problem+json"
            return response.status

    return list(await asyncio.gather(*(one() for _ in range(count))))


@pytest.mark.parametrize("variant", ["compose", "helm"])
async def test_clients_behind_a_trusted_proxy_get_their_own_rate_limit_budgets(
    variant: Variant, stack: StackClient
):
    with running_gateway(variant, stack) as gateway:
        async with aiohttp.ClientSession() as session:
            first = await _statuses(session, gateway.base_url, "198.51.100.1", 150)
            assert 429 in first, "one client used up its budget"
            second = await _statuses(session, gateway.base_url, "198.51.100.2", 5)
            assert second == [401] * 5, "another client keeps its own budget"


@pytest.mark.parametrize("variant", ["compose", "helm"])
async def test_an_untrusted_x_forwarded_for_is_ignored(
    variant: Variant, stack: StackClient
):
    # Loopback (the test client) is not the trusted proxy here.
    with running_gateway(variant, stack, trusted_proxy="192.0.2.10/32") as gateway:
        async with aiohttp.ClientSession() as session:
            first = await _statuses(session, gateway.base_url, "198.51.100.1", 150)
            assert 429 in first
            # As many as the burst: a fresh budget would answer every one.
            second = await _statuses(session, gateway.base_url, "198.51.100.2", 60)
            assert 429 in second, "a forged X-Forwarded-For bought no new budget"
