"""What varies between the gateway's three renderings (the local stack,
docker compose, the Helm chart): the `@@NAME@@` values and switched blocks of
nginx/gateway.conf.in for each."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

CONTAINER_ROOT: Final = "/usr/share/nginx/html"

SECURITY_HEADERS: Final = (
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
HSTS: Final = 'add_header Strict-Transport-Security "max-age=31536000" always;'


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
                *SECURITY_HEADERS,
                tls_on,
                HSTS,
                "{{- end }}",
            ],
        },
    )
