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

from devstack.stack import free_port, swagger_ui_dir
from tests.e2e.conftest import ARTIFACTS
from tests.support.browser import chromium, record_problems
from tests.support.eventually import eventually, wait_until
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


def compose_routes(stack: StackClient, port: int) -> str:
    config = stack.stack.config
    routes = (ROOT / "docker" / "nginx" / "default.conf.template").read_text()
    routes = routes.replace("${NGINX_COMMANDS_RATE}", "50r/s").replace(
        "${NGINX_COMMANDS_BURST}", "50"
    )
    servers = {
        "query-1:8101": f"127.0.0.1:{config.query_ports[0]}",
        "query-2:8101": f"127.0.0.1:{config.query_ports[1]}",
        "command-service:8001": f"127.0.0.1:{config.command_port}",
        "rabbitmq:15672": config.rabbitmq_management,
    }
    for container, local in servers.items():
        routes = routes.replace(f"server {container} ", f"server {local} ")
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
    config = stack.stack.config
    routes = re.sub(
        r"server rel-randomuser-connector-query:\d+ ",
        f"server 127.0.0.1:{config.query_ports[0]} ",
        routes,
    )
    routes = re.sub(
        r"server rel-randomuser-connector-command:\d+ ",
        f"server 127.0.0.1:{config.command_port} ",
        routes,
    )
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


@pytest.fixture(scope="module", params=["compose", "helm"])
def gateway(request: pytest.FixtureRequest, stack: StackClient) -> Iterator[Gateway]:
    variant: Variant = request.param
    port = free_port()
    run_dir = Path(tempfile.mkdtemp(prefix=f"gateway-{variant}-"))
    for sub in ("conf.d", "html", "cache", "logs", "tmp"):
        (run_dir / sub).mkdir()
    build_document_root(run_dir / "html")
    routes = (compose_routes if variant == "compose" else helm_routes)(stack, port)
    assert re.search(r"server [a-z][\w.-]*:\d+", routes) is None, "an unmapped host"
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
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
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
