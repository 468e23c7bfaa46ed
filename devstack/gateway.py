"""Renders nginx/gateway.conf.in for the local stack, docker compose and the Helm chart."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from devstack.config import StackConfig

ROOT: Final = Path(__file__).resolve().parents[1]
SOURCE: Final = ROOT / "nginx" / "gateway.conf.in"
CONTAINER_MAIN: Final = ROOT / "docker" / "nginx" / "nginx.conf"
COMPOSE_OUTPUT: Final = ROOT / "docker" / "nginx" / "default.conf.template"
COMPOSE_TLS_OUTPUT: Final = ROOT / "docker" / "nginx" / "default-tls.conf.template"
HELM_OUTPUT: Final = (
    ROOT / "deploy" / "helm" / "randomuser-connector" / "files" / "gateway.conf"
)
CONTAINER_ROOT: Final = "/usr/share/nginx/html"
Variant = Literal["local", "compose", "helm"]

_SECURITY_HEADERS: Final = (
    'add_header X-Content-Type-Options "nosniff" always;',
    'add_header X-Frame-Options "DENY" always;',
    'add_header Referrer-Policy "no-referrer" always;',
    'add_header Permissions-Policy "camera=(), microphone=(), geolocation=()" always;',
    'add_header Cross-Origin-Opener-Policy "same-origin" always;',
    'add_header Cross-Origin-Resource-Policy "same-origin" always;',
    "add_header X-Request-ID $request_id always;",
    "add_header X-Correlation-ID $correlation_id always;",
)
SNAPSHOT_FILES_MOUNT: Final = "/var/lib/randomuser/snapshots"
"""Where compose and the chart mount the projector's snapshot files, in the
projector (SNAPSHOT_FILES_DIR) and, read-only, in the gateway."""
_HSTS: Final = 'add_header Strict-Transport-Security "max-age=31536000" always;'
_PROXY_HEADERS: Final = (
    "proxy_http_version 1.1;",
    'proxy_set_header Connection "";',
    "proxy_set_header Host $host;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "proxy_set_header X-Request-ID $request_id;",
    "proxy_set_header X-Correlation-ID $correlation_id;",
)
_PLACEHOLDER: Final = re.compile(r"^(?P<indent>[ \t]*)@@(?P<name>[A-Z_]+)@@$", re.M)
_INLINE: Final = re.compile(r"@@(?P<name>[A-Z_]+)@@")


@dataclass(frozen=True)
class LocalGateway:
    """Where the local stack's gateway listens and what it proxies to."""

    listen: str
    query_servers: tuple[str, ...]
    command_server: str
    rabbitmq_management: str | None
    commands_rate: str
    commands_burst: int
    cache_dir: Path
    web_root: Path
    swagger_ui: Path
    access_log: str
    trusted_proxies: tuple[str, ...] = ()
    tls: LocalTls | None = None
    snapshot_files: Path | None = None
    """The projector's SNAPSHOT_FILES_DIR: nginx serves the snapshot from it."""


@dataclass(frozen=True)
class LocalTls:
    """HTTPS of the local gateway: a certificate and the plain-HTTP redirect."""

    certificate: Path
    key: Path
    http_listen: str
    https_port: int


@dataclass(frozen=True)
class Values:
    """The values of one rendering: `@@NAME@@` replacements and switched blocks."""

    text: dict[str, str]
    lines: dict[str, list[str]]
    blocks: set[str] = field(default_factory=set)
    tls: bool = False
    wrapped: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Blocks kept between a template's own opening and closing lines (Helm's
    `{{- if ... }}`) instead of being decided here."""


def _servers(addresses: tuple[str, ...] | list[str], options: str) -> list[str]:
    return [f"server {address} {options};" for address in addresses]


def _real_ip(proxies: tuple[str, ...] | list[str]) -> list[str]:
    return [
        *(f"set_real_ip_from {proxy};" for proxy in proxies),
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
    ]


def local_values(gateway: LocalGateway) -> Values:
    """Values for the local stack: processes on loopback ports, nothing to resolve."""
    tls = gateway.tls
    text = {
        "COMMANDS_RATE": gateway.commands_rate,
        "COMMANDS_BURST": str(gateway.commands_burst),
        "CACHE_DIR": str(gateway.cache_dir),
        "ACCESS_LOG": gateway.access_log,
        "WEB_ROOT": str(gateway.web_root),
        "SWAGGER_UI": str(gateway.swagger_ui),
    }
    lines = {
        "RESOLVER": ["# (local: fixed loopback ports, nothing to resolve)"],
        "QUERY_SERVERS": _servers(gateway.query_servers, "max_fails=1 fail_timeout=2s"),
        "COMMAND_SERVERS": _servers((gateway.command_server,), "max_fails=0"),
        "RABBITMQ_SERVERS": _servers(
            (gateway.rabbitmq_management or "127.0.0.1:15672",), "max_fails=0"
        ),
        "REAL_IP": _real_ip(gateway.trusted_proxies),
        "LISTEN": [f"listen {gateway.listen}{' ssl' if tls else ''};"],
    }
    blocks = {"rabbitmq"} if gateway.rabbitmq_management else set()
    if gateway.snapshot_files is not None:
        blocks.add("snapshot_files")
        text["SNAPSHOT_FILES"] = str(gateway.snapshot_files)
    if tls is not None:
        blocks.add("tls")
        text |= {
            "TLS_CERTIFICATE": str(tls.certificate),
            "TLS_KEY": str(tls.key),
            "HTTPS_PORT_SUFFIX": "" if tls.https_port == 443 else f":{tls.https_port}",
        }
        lines["LISTEN_HTTP"] = [f"listen {tls.http_listen};"]
    return Values(text, lines, blocks, tls=tls is not None)


def compose_values(*, tls: bool = False) -> Values:
    """Values for docker compose: `${NAME}` is left for the nginx image's envsubst.

    With `tls`, HTTPS on 8443 with the certificate mounted at /etc/nginx/tls
    (docker-compose.tls.yml), and 8080 redirects to it.
    """
    values = Values(
        text={
            "COMMANDS_RATE": "${NGINX_COMMANDS_RATE}",
            "COMMANDS_BURST": "${NGINX_COMMANDS_BURST}",
            "CACHE_DIR": "/var/cache/nginx/queries",
            "ACCESS_LOG": "/dev/stdout gateway",
            "WEB_ROOT": CONTAINER_ROOT,
            "SWAGGER_UI": f"{CONTAINER_ROOT}/docs/swagger-ui",
            "SNAPSHOT_FILES": SNAPSHOT_FILES_MOUNT,
        },
        blocks={"snapshot_files"},
        lines={
            # Docker's embedded DNS: `query` names every replica of the service.
            "RESOLVER": ["resolver 127.0.0.11 valid=5s ipv6=off;"],
            "QUERY_SERVERS": _servers(
                ["query:8101"], "resolve max_fails=1 fail_timeout=2s"
            ),
            "COMMAND_SERVERS": _servers(
                ["command-service:8001"], "resolve max_fails=1 fail_timeout=2s"
            ),
            "REAL_IP": _real_ip(["${NGINX_TRUSTED_PROXIES}"]),
            "LISTEN": ["listen 8080 default_server;"],
        },
        # No /rabbitmq/: compose publishes the management UI on the host's
        # loopback only, not through the gateway every client reaches.
    )
    if not tls:
        return values
    values.text.update(
        {
            "TLS_CERTIFICATE": "/etc/nginx/tls/tls.crt",
            "TLS_KEY": "/etc/nginx/tls/tls.key",
            "HTTPS_PORT_SUFFIX": ":${NGINX_HTTPS_PORT}",
        }
    )
    values.lines["LISTEN"] = ["listen 8443 ssl default_server;"]
    values.lines["LISTEN_HTTP"] = ["listen 8080 default_server;"]
    return dataclasses.replace(values, blocks={"tls", "snapshot_files"}, tls=True)


def helm_values() -> Values:
    """Values for the chart: Go template actions that the ConfigMap runs through `tpl`."""
    service = (
        '{{ include "rc.componentName" (dict "root" $ "component" "%s") }}'
        "-headless.{{ $.Release.Namespace }}.svc.{{ $.Values.clusterDomain }}:%s"
    )
    tls_on = "{{- if .Values.gateway.tls.enabled }}"
    return Values(
        wrapped={
            "tls": (tls_on, "{{- end }}"),
            "snapshot_files": ("{{- if .Values.snapshotFiles.enabled }}", "{{- end }}"),
        },
        text={
            "TLS_CERTIFICATE": "/etc/nginx/tls/tls.crt",
            "TLS_KEY": "/etc/nginx/tls/tls.key",
            "HTTPS_PORT_SUFFIX": "{{ with .Values.gateway.tls.redirectPort }}:{{ . }}{{ end }}",
            "COMMANDS_RATE": "{{ .Values.gateway.commandsRate }}",
            "COMMANDS_BURST": "{{ .Values.gateway.commandsBurst }}",
            "CACHE_DIR": "/var/cache/nginx/queries",
            "ACCESS_LOG": "/dev/stdout gateway",
            "WEB_ROOT": CONTAINER_ROOT,
            "SWAGGER_UI": f"{CONTAINER_ROOT}/docs/swagger-ui",
            "SNAPSHOT_FILES": SNAPSHOT_FILES_MOUNT,
        },
        lines={
            # The headless Services list only ready pods: a pod leaves the
            # upstream as soon as its readiness turns false.
            "RESOLVER": ["resolver {{ .Values.gateway.resolver }} valid=5s ipv6=off;"],
            "QUERY_SERVERS": _servers(
                [service % ("query", "{{ .Values.query.port }}")],
                "resolve max_fails=1 fail_timeout=2s",
            ),
            "COMMAND_SERVERS": _servers(
                [service % ("command", "{{ .Values.commandService.port }}")],
                "resolve max_fails=1 fail_timeout=2s",
            ),
            "REAL_IP": [
                "{{- range .Values.gateway.realIp.trustedProxies }}",
                "set_real_ip_from {{ . }};",
                "{{- end }}",
                "real_ip_header X-Forwarded-For;",
                "real_ip_recursive on;",
            ],
            "LISTEN": [
                "listen {{ if .Values.gateway.tls.enabled }}"
                "{{ .Values.gateway.tls.port }} ssl"
                "{{ else }}{{ .Values.gateway.port }}{{ end }} default_server;"
            ],
            "LISTEN_HTTP": ["listen {{ .Values.gateway.port }} default_server;"],
            "SECURITY_HEADERS": [
                *_SECURITY_HEADERS,
                tls_on,
                _HSTS,
                "{{- end }}",
            ],
        },
    )


def render(values: Values, source: str | None = None) -> str:
    """The routes of `values`; raises ValueError on an unknown or unused name."""
    text = SOURCE.read_text(encoding="utf-8") if source is None else source
    kept: list[str] = []
    skipping: str | None = None
    closing: str | None = None
    for line in text.splitlines():
        if line.startswith("#@if "):
            name = line.removeprefix("#@if ").strip()
            if name in values.wrapped:
                kept.append(values.wrapped[name][0])
                closing = values.wrapped[name][1]
            else:
                closing = None
            skipping = None if name in values.blocks | set(values.wrapped) else name
            continue
        if line.startswith("#@end"):
            if skipping is None and closing is not None:
                kept.append(closing)
            skipping = None
            closing = None
            continue
        if skipping is None:
            kept.append(line)
    text = "\n".join(kept) + "\n"
    lines = dict(values.lines)
    lines.setdefault(
        "SECURITY_HEADERS", [*_SECURITY_HEADERS, *([_HSTS] if values.tls else [])]
    )
    lines["PROXY_HEADERS"] = list(_PROXY_HEADERS)

    def block(match: re.Match[str]) -> str:
        name, indent = match["name"], match["indent"]
        if name not in lines:
            return match[0]
        return "\n".join(f"{indent}{line}" for line in lines[name])

    text = _PLACEHOLDER.sub(block, text)

    def inline(match: re.Match[str]) -> str:
        if match["name"] not in values.text:
            raise ValueError(f"the gateway source names no value {match[0]}")
        return values.text[match["name"]]

    return _INLINE.sub(inline, text)


def render_local(gateway: LocalGateway, *, run_dir: Path, mime_types: str) -> str:
    """The local nginx.conf: the image's main config around the rendered routes."""
    main = CONTAINER_MAIN.read_text(encoding="utf-8")
    routes = render(local_values(gateway))
    replacements = {
        "pid /tmp/nginx.pid;": f"daemon off;\npid {run_dir}/nginx.pid;",
        "error_log /dev/stderr warn;": f"error_log {run_dir}/logs/nginx-error.log warn;",
        "include /etc/nginx/mime.types;": f"include {mime_types};",
        "include /etc/nginx/conf.d/*.conf;": routes.replace("\n", "\n    "),
    }
    for old, new in replacements.items():
        if main.count(old) != 1:
            raise ValueError(f"{CONTAINER_MAIN.name} has no single {old!r}")
        main = main.replace(old, new)
    # The image keeps nginx's temporary files in /tmp (a read-only root filesystem).
    return main.replace("/tmp/nginx-", f"{run_dir}/nginx-tmp/")  # noqa: S108


def render_local_stack(
    config: StackConfig,
    *,
    cache_dir: Path,
    swagger_ui: Path,
    tls: LocalTls | None = None,
    trusted_proxies: tuple[str, ...] = (),
    snapshot_files: Path | None = None,
) -> str:
    """The nginx.conf of the local stack `config` (make run, the e2e tests)."""
    mime = next(
        (
            p
            for p in ("/etc/nginx/mime.types", "/usr/local/nginx/conf/mime.types")
            if Path(p).exists()
        ),
        "/etc/nginx/mime.types",
    )
    access_log = (
        f"{config.run_dir / 'logs' / 'nginx-access.log'} gateway"
        if config.access_log
        else "off"
    )
    port = config.http_port if tls is None else tls.https_port
    local = LocalGateway(
        listen=f"127.0.0.1:{port}",
        query_servers=tuple(f"127.0.0.1:{port}" for port in config.query_ports),
        command_server=f"127.0.0.1:{config.command_port}",
        rabbitmq_management=config.rabbitmq_management,
        commands_rate=config.command_rate,
        commands_burst=config.command_burst,
        cache_dir=cache_dir,
        web_root=ROOT / "web",
        swagger_ui=swagger_ui,
        access_log=access_log,
        trusted_proxies=trusted_proxies,
        tls=tls,
        snapshot_files=snapshot_files,
    )
    return render_local(local, run_dir=config.run_dir, mime_types=mime)


GENERATED: Final = "# Generated by `python -m devstack.gateway` from nginx/gateway.conf.in: do not edit.\n"


def committed_outputs() -> dict[Path, str]:
    """The generated files the repository keeps, with the text they must hold."""
    return {
        COMPOSE_OUTPUT: GENERATED + render(compose_values()),
        COMPOSE_TLS_OUTPUT: GENERATED + render(compose_values(tls=True)),
        HELM_OUTPUT: GENERATED + render(helm_values()),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the generated gateway files, or with --check report stale ones."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in committed_outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        verb = "is stale" if args.check else "written"
        sys.stderr.write(f"{path.relative_to(ROOT)} {verb}\n")
    if args.check and stale:
        sys.stderr.write("run `python -m devstack.gateway` and commit the result\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
