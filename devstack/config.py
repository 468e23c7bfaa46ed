"""What a local stack runs and where, and the nginx configuration rendered from it."""

from __future__ import annotations

import importlib.util
import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path

from devstack import gateway, tls

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class StackConfig:
    """What to run and where. Every port defaults to a fixed local one."""

    run_dir: Path = ROOT / ".run"
    http_port: int = 8080
    command_port: int = 8001
    query_ports: tuple[int, ...] = (8101, 8102)
    projector_health_port: int = 8201
    worker_health_port: int = 8301
    sim_port: int = 8400
    mongo_port: int = 27017
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    mongo_url: str | None = None
    mongo_database: str = "randomuser"
    randomuser_url: str | None = None
    offline: bool = False
    amqp_namespace: str = ""
    command_token: str | None = None
    sync_interval_seconds: int = 3600
    rabbitmq_management: str = "127.0.0.1:15672"
    nginx: bool = True
    log_format: str = "json"
    access_log: bool = True
    command_rate: str = "5r/s"
    command_burst: int = 10
    sim_args: tuple[str, ...] = ()
    """Extra command-line arguments of the simulator (e.g. its rate limit)."""
    nginx_cache_dir: Path | None = None
    """nginx's micro-cache directory; `run_dir/nginx-cache` when None. A tmpfs
    directory keeps cache refreshes off the disk."""
    extra_env: dict[str, str] = field(default_factory=dict)
    https_port: int | None = None
    """HTTPS of nginx with a generated local certificate (make run TLS=1);
    `http_port` then only redirects to it. None: plain HTTP."""
    snapshot_files: bool = True
    """The projector publishes each snapshot as files (`run_dir/snapshots`)
    that nginx serves itself; False: the replicas answer every read."""

    @property
    def snapshot_files_dir(self) -> Path | None:
        """The projector's SNAPSHOT_FILES_DIR, or None when files are off."""
        return self.run_dir / "snapshots" if self.snapshot_files else None


def nginx_cache_dir(config: StackConfig) -> Path:
    """Where nginx keeps its micro-cache for `config`."""
    return config.nginx_cache_dir or config.run_dir / "nginx-cache"


def let_nginx_workers_write(run_dir: Path, cache_dir: Path) -> None:
    """Started as root, nginx runs its workers as `nobody`: they must reach the
    run directory and own their cache and temporary files.
    """
    if os.geteuid() != 0:
        return
    nobody = pwd.getpwnam("nobody")
    run_dir.chmod(0o755)
    for top in (cache_dir, run_dir / "nginx-tmp"):
        for path in (top, *top.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def swagger_ui_dir() -> Path:
    """Swagger UI's static files, from the swagger-ui-py package (the `local` extra).

    Found without importing the package (its framework adapters are not needed).
    Without it, /docs/ serves our page and its assets answer 404.
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return ROOT / "web" / "docs" / "swagger-ui-not-installed"
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def render_nginx_conf(config: StackConfig) -> str:
    """The nginx configuration for `config`, from nginx/gateway.conf.in."""
    local_tls = (
        None
        if config.https_port is None
        else tls.local_tls(
            config.run_dir / "tls",
            http_port=config.http_port,
            https_port=config.https_port,
        )
    )
    return gateway.render_local_stack(
        config,
        cache_dir=nginx_cache_dir(config),
        swagger_ui=swagger_ui_dir(),
        tls=local_tls,
        snapshot_files=config.snapshot_files_dir,
    )
