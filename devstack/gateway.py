"""Renders nginx/gateway.conf.in for the local stack, docker compose and the Helm chart."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from devstack.gateway_values import (
    HSTS,
    SECURITY_HEADERS,
    LocalGateway,
    LocalTls,
    Values,
    compose_values,
    helm_values,
    local_values,
)

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
        "SECURITY_HEADERS", [*SECURITY_HEADERS, *([HSTS] if values.tls else [])]
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
