"""One gateway source: the committed renderings are current and the variants agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devstack import gateway, gateway_values
from devstack.config import StackConfig, render_nginx_conf
from devstack.tls import ensure_certificate
from tests.support import nginx_check

ROOT = Path(__file__).resolve().parents[2]


def local_routes() -> str:
    return gateway.render(
        gateway_values.local_values(
            gateway_values.LocalGateway(
                listen="127.0.0.1:8080",
                query_servers=("127.0.0.1:8101", "127.0.0.1:8102"),
                command_server="127.0.0.1:8001",
                rabbitmq_management="127.0.0.1:15672",
                commands_rate="5r/s",
                commands_burst=10,
                # Paths of a checkout (only rendered, never read).
                cache_dir=ROOT / ".run" / "nginx-cache",
                web_root=ROOT / "web",
                swagger_ui=ROOT / "web" / "docs" / "swagger-ui",
                access_log="off",
                snapshot_files=ROOT / ".run" / "snapshots",
            )
        )
    )


def variants() -> dict[str, str]:
    return {
        "local": local_routes(),
        "compose": gateway.render(gateway_values.compose_values()),
        # TLS off, as the chart renders it by default; snapshot files on.
        "helm": re.sub(
            r"(?ms)^\s*\{\{- if \.Values\.gateway\.tls\.enabled \}\}$.*?^\s*\{\{- end \}\}$",
            "",
            gateway.render(gateway_values.helm_values()),
        ),
    }


def test_the_committed_gateway_files_are_rendered_from_the_source() -> None:
    assert gateway.main(["--check"]) == 0, "run `python -m devstack.gateway`"
    for path, text in gateway.committed_outputs().items():
        assert path.read_text(encoding="utf-8") == text


def _locations(routes: str) -> dict[str, list[str]]:
    """Each location's directives, without the lines a variant may change."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in routes.splitlines():
        line = raw.strip()
        if line.startswith("location "):
            current = found.setdefault(line, [])
        elif (
            current is not None
            and line not in {"", "}"}
            and line[0] != "#"
            # Helm's switches around whole blocks are not directives.
            and not line.startswith("{{")
        ):
            # Where files lie differs by variant, not the folder served.
            line = re.sub(r"^(alias|root) \S*/([^/]*/?;)$", r"\1 .../\2", line)
            current.append(re.sub(r"burst=(\{\{[^}]*\}\}|\S+)", "burst=N", line))
    return found


def test_every_gateway_has_the_same_routes_and_directives() -> None:
    rendered = {name: _locations(routes) for name, routes in variants().items()}
    local = rendered["local"]
    rabbitmq = {"location /rabbitmq/ {", "location = /rabbitmq {"}
    for name in ("compose", "helm"):
        assert set(rendered[name]) == set(local) - rabbitmq, name
        for location, directives in rendered[name].items():
            assert directives == local[location], (name, location)


@pytest.mark.parametrize("name", ["local", "compose", "helm"])
def test_every_gateway_refuses_methods_with_405_problem_json(name: str) -> None:
    routes = variants()[name]
    assert "limit_except" not in routes
    assert "deny all" not in routes
    assert "least_conn;" in routes
    assert "real_ip_header X-Forwarded-For;" in routes
    # Each location with error_page lines of its own repeats the 405 page.
    for block in re.findall(r"location [^{]*\{(?:[^{}]|\{[^{}]*\})*\}", routes):
        if "error_page" in block and "@" not in block.split("{", 1)[0]:
            assert "error_page 405 @method_not_allowed;" in block, block[:60]
    for status in (405, 413, 429, 503):
        assert f'"status":{status}' in routes


def test_a_value_the_source_does_not_know_is_an_error() -> None:
    with pytest.raises(ValueError, match="@@NOPE@@"):
        gateway.render(gateway_values.compose_values(), "x @@NOPE@@;\n")


def test_the_local_stack_gets_the_image_main_config_with_local_paths(
    tmp_path: Path,
) -> None:
    conf = render_nginx_conf(StackConfig(run_dir=tmp_path))
    assert "daemon off;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf
    assert "worker_shutdown_timeout" in conf
    assert "/tmp/nginx-" not in conf  # noqa: S108 - the image's paths are gone
    assert "include /etc/nginx/conf.d" not in conf
    assert "location /rabbitmq/ {" in conf


def _nginx_t(tmp: Path, routes: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of container routes with their paths moved under `tmp`."""
    routes = re.sub(r"server [a-z][\w.-]*:(\d+)", r"server 127.0.0.1:\1", routes)
    # The certificate's local path last: it lies under /tmp, which
    # local_routes maps as a container path.
    routes = nginx_check.local_routes(routes, tmp, [])
    certificate, key = ensure_certificate(tmp / "tls")
    routes = routes.replace("/etc/nginx/tls/tls.crt", str(certificate))
    routes = routes.replace("/etc/nginx/tls/tls.key", str(key))
    return nginx_check.check_routes(tmp, routes)


def test_the_compose_tls_rendering_serves_https_and_redirects(tmp_path: Path) -> None:
    template = gateway.COMPOSE_TLS_OUTPUT.read_text(encoding="utf-8")
    assert "listen 8443 ssl default_server;" in template
    assert "return 308 https://$host:${NGINX_HTTPS_PORT}$request_uri;" in template
    assert template.count("Strict-Transport-Security") >= 3
    routes = (
        template.replace("${NGINX_COMMANDS_RATE}", "30r/m")
        .replace("${NGINX_COMMANDS_BURST}", "10")
        .replace("${NGINX_TRUSTED_PROXIES}", "10.0.0.0/8")
        .replace("${NGINX_HTTPS_PORT}", "443")
    )
    result = _nginx_t(tmp_path, routes)
    assert result.returncode == 0, result.stderr
    override = yaml.safe_load(
        (ROOT / "docker-compose.tls.yml").read_text(encoding="utf-8")
    )
    nginx = override["services"]["nginx"]
    targets = {volume.rsplit(":", 2)[-2] for volume in nginx["volumes"]}
    assert targets == {"/etc/nginx/templates/default.conf.template", "/etc/nginx/tls"}
    assert "./docker/nginx/default-tls.conf.template" in nginx["volumes"][0]


def test_the_helm_tls_rendering_is_accepted_by_nginx(tmp_path: Path) -> None:
    helm = Path(sys.executable).parent / "helm"
    if not helm.is_file():
        pytest.skip("helm is not installed")
    rendered = subprocess.run(
        [str(helm), "template", "rel", str(ROOT / "deploy/helm/randomuser-connector"),
         "--show-only", "templates/gateway-configmap.yaml",
         "--set", "rabbitmq.url=amqp://u:p@r:5672/",
         "--set", "mongodb.url=mongodb://u:p@m:27017/",
         "--set", "commandToken=0123456789abcdef0",
         "--set", "gateway.tls.enabled=true", "--set", "gateway.tls.secretName=gw"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    routes = str(yaml.safe_load(rendered)["data"]["default.conf"])
    assert "listen 8443 ssl default_server;" in routes
    assert "return 308 https://$host$request_uri;" in routes
    result = _nginx_t(tmp_path, routes)
    assert result.returncode == 0, result.stderr
