"""docker-compose.yml checks: schema, health checks, start order, images, settings names."""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import yaml

from command_service.settings import CommandSettings
from query_service.settings import ProjectorSettings, QuerySettings
from sync_worker.settings import SyncWorkerSettings

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_TEMPLATE = ROOT / "docker" / "nginx" / "default.conf.template"

# What `python -m <module>` reads its settings into; None: CLI arguments only.
SETTINGS_OF_MODULE: dict[str, type[BaseSettings] | None] = {
    "command_service": CommandSettings,
    "sync_worker": SyncWorkerSettings,
    "query_service.projector": ProjectorSettings,
    "query_service": QuerySettings,
    "randomuser_sim": None,
}
# Read by docker/healthcheck.py inside the container, not by the service.
HEALTHCHECK_VARIABLES = {
    "HEALTHCHECK_URL",
    "HEALTHCHECK_PATH",
    "HEALTHCHECK_TIMEOUT_SECONDS",
}
# Stand-in values for the variables a user puts in .env.
DOTENV = {
    "RABBITMQ_DEFAULT_USER": "connector",
    "RABBITMQ_DEFAULT_PASS": "rabbit-secret-0123456789",
    "MONGO_INITDB_ROOT_USERNAME": "root",
    "MONGO_INITDB_ROOT_PASSWORD": "mongo-root-secret-0123456789",
    "MONGO_APP_USERNAME": "connector",
    "MONGO_APP_PASSWORD": "mongo-app-secret-0123456789",
    "COMMAND_TOKEN": "command-token-0123456789abcdef",
}
SECRET_VARIABLES = set(DOTENV)
PINNED_IMAGES = re.compile(r"^[a-z0-9./-]+:[A-Za-z0-9._-]+$")

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(Exception):
    """A `${NAME:?message}` variable is unset."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Apply compose's variable interpolation to every string in `value`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["plain"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        unset = current is None or (current == "" and op is not None and op[0] == ":")
        if op in {":?", "?"} and unset:
            raise MissingVariableError(f"{name}: {arg}")
        if op in {":-", "-"} and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(replace, value)


@cache
def raw_compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def compose() -> dict[str, Any]:
    """The compose file as docker compose sees it with a complete .env."""
    result = interpolate(raw_compose(), DOTENV)
    assert isinstance(result, dict)
    return result


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def python_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services().items()
        if service.get("command", [])[:2] == ["python", "-m"]
    }


def module_of(service: dict[str, Any]) -> str:
    module = service["command"][2]
    assert isinstance(module, str)
    return module


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping"
    return {str(key): str(value) for key, value in env.items()}


def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendored / "compose-spec.json").read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def _load_healthcheck_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "container_healthcheck", ROOT / "docker" / "healthcheck.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    for document in (raw_compose(), compose()):
        errors = sorted(
            validator_class(schema).iter_errors(document), key=lambda e: e.json_path
        )
        assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_the_stack_has_every_process_of_the_design() -> None:
    modules = sorted(module_of(service) for service in python_services().values())
    assert modules == sorted(
        [
            "command_service",
            "sync_worker",
            "query_service.projector",
            "query_service",
            "randomuser_sim",
        ]
    )
    assert {"rabbitmq", "mongo", "nginx"} <= set(services())


# Runs once before everything else and exits: a dependency waits for its success.
ONE_SHOT = {"secrets-check"}


@pytest.mark.parametrize("name", sorted(set(raw_compose()["services"]) - ONE_SHOT))
def test_every_service_has_a_health_check(name: str) -> None:
    healthcheck = services()[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    assert healthcheck["test"][0] in {"CMD", "CMD-SHELL"}
    for key in ("interval", "timeout", "retries"):
        assert key in healthcheck, f"{name}: healthcheck without {key}"


def test_every_dependency_waits_for_a_healthy_service() -> None:
    for name, service in services().items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: use the long depends_on form"
        for target, condition in depends_on.items():
            assert target in services(), f"{name} depends on unknown {target}"
            if target in ONE_SHOT:
                assert condition["condition"] == "service_completed_successfully"
                continue
            assert condition["condition"] == "service_healthy", f"{name} → {target}"
            assert "healthcheck" in services()[target]


def test_services_start_after_what_they_connect_to() -> None:
    needs = {
        "command-service": {"rabbitmq", "sync-worker"},
        "sync-worker": {"rabbitmq", "projector"},
        "projector": {"rabbitmq", "mongo"},
        "query": {"mongo"},
        "nginx": {"query", "command-service"},
        "rabbitmq": {"secrets-check"},
        "mongo": {"secrets-check"},
    }
    for name, required in needs.items():
        assert required <= set(services()[name].get("depends_on", {})), name


def test_the_offline_simulator_is_optional() -> None:
    simulator = services()["randomuser-sim"]
    assert simulator["profiles"] == ["offline"]
    dependency = services()["sync-worker"]["depends_on"]["randomuser-sim"]
    assert dependency["required"] is False
    for name, service in services().items():
        if name != "randomuser-sim":
            assert "profiles" not in service, f"{name} must run by default"


def test_images_are_pinned_and_python_services_share_one_local_build() -> None:
    for name, service in services().items():
        image = service.get("image")
        assert image, f"{name} has no image"
        assert PINNED_IMAGES.match(image), f"{name}: {image} is not name:tag"
        assert not image.endswith(":latest"), f"{name}: {image}"
    assert services()["rabbitmq"]["image"].startswith("rabbitmq:4.")
    assert services()["rabbitmq"]["image"].endswith("-management")
    assert services()["mongo"]["image"].startswith("mongo:7")
    # The gateway is built from the same Dockerfile (target `gateway`): it
    # bakes in the dashboard and Swagger UI, so it mounts only its routes and,
    # read-only, the projector's snapshot files.
    nginx = services()["nginx"]
    assert nginx["build"] == {"context": ".", "target": "gateway"}
    assert nginx["image"] == "randomuser-connector-gateway:local"
    mounted = {volume.split(":")[1] for volume in nginx["volumes"]}
    assert mounted == {
        "/etc/nginx/templates/default.conf.template",
        "/var/lib/randomuser/snapshots",
    }
    assert "snapshots:/var/lib/randomuser/snapshots:ro" in nginx["volumes"]
    projector = services()["projector"]
    assert "snapshots:/var/lib/randomuser/snapshots" in projector["volumes"]
    assert (
        projector["environment"]["SNAPSHOT_FILES_DIR"]
        == "/var/lib/randomuser/snapshots"
    )
    builds = {
        json.dumps(service["build"], sort_keys=True)
        for service in python_services().values()
    }
    assert len(builds) == 1
    assert {service["image"] for service in python_services().values()} == {
        "randomuser-connector:local"
    }


def test_only_nginx_publishes_a_port_on_every_interface() -> None:
    published = {name for name, service in services().items() if service.get("ports")}
    assert published == {"nginx", "rabbitmq"}
    assert services()["nginx"]["ports"] == ["8080:8080"]
    # The management UI has the broker's admin credentials behind it: loopback only.
    assert services()["rabbitmq"]["ports"] == ["127.0.0.1:15672:15672"]
    custom = interpolate(raw_compose(), DOTENV | {"STACK_HTTP_PORT": "9090"})
    assert custom["services"]["nginx"]["ports"] == ["9090:8080"]


@pytest.mark.parametrize("name", sorted(python_services()))
def test_command_runs_a_real_module(name: str) -> None:
    module = module_of(python_services()[name])
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{name}: no module {module}"
    if spec.submodule_search_locations is not None:
        assert importlib.util.find_spec(f"{module}.__main__") is not None, (
            f"{name}: package {module} has no __main__"
        )


@pytest.mark.parametrize("name", sorted(python_services()))
def test_environment_names_are_settings_of_that_service(name: str) -> None:
    service = python_services()[name]
    settings_class = SETTINGS_OF_MODULE[module_of(service)]
    fields = set() if settings_class is None else set(settings_class.model_fields)
    known = {field.upper() for field in fields} | HEALTHCHECK_VARIABLES
    unknown = set(environment(service)) - known
    assert not unknown, f"{name} sets variables its settings do not read: {unknown}"


@pytest.mark.parametrize(
    "name",
    sorted(n for n, s in python_services().items() if module_of(s) != "randomuser_sim"),
)
def test_environment_values_pass_the_settings_validation(name: str) -> None:
    service = python_services()[name]
    settings_class = SETTINGS_OF_MODULE[module_of(service)]
    assert settings_class is not None
    values: dict[str, Any] = {
        key.lower(): value
        for key, value in environment(service).items()
        if key.lower() in settings_class.model_fields
    }
    settings = settings_class(_env_file=None, **values)
    port_field = (
        "health_port" if "health_port" in settings_class.model_fields else "http_port"
    )
    host_field = port_field.replace("port", "host")
    assert getattr(settings, host_field) == "0.0.0.0", (
        f"{name} must bind all interfaces"
    )
    assert port_field.upper() in environment(service), (
        f"{name}: set {port_field.upper()}"
    )


@pytest.mark.parametrize("name", sorted(python_services()))
def test_container_health_check_probes_the_port_the_service_listens_on(
    name: str,
) -> None:
    service = python_services()[name]
    env = environment(service)
    url = _load_healthcheck_module().target_url(env)
    assert url is not None
    if module_of(service) == "randomuser_sim":
        port = service["command"][service["command"].index("--port") + 1]
        assert url.startswith(f"http://127.0.0.1:{port}/")
        host = service["command"][service["command"].index("--host") + 1]
        assert host == "0.0.0.0"
    else:
        port = env.get("HEALTH_PORT") or env["HTTP_PORT"]
        assert url == f"http://127.0.0.1:{port}/readyz"


def test_python_containers_are_locked_down() -> None:
    for name, service in python_services().items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_secrets_come_from_the_env_file_and_have_no_defaults() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for name in SECRET_VARIABLES:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not used"
        for suffix in uses:
            assert suffix.startswith(":?"), f"${{{name}{suffix}}} must be required"
        with pytest.raises(MissingVariableError, match=name):
            interpolate(raw_compose(), {k: v for k, v in DOTENV.items() if k != name})
    assert "guest" not in text


def test_env_example_lists_the_variables_compose_needs() -> None:
    example = ROOT / ".env.example"
    assert example.is_file(), ".env.example is missing"
    listed = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example.read_text(), re.MULTILINE)
    )
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    missing = used - listed
    assert not missing, (
        f"add to .env.example (docker compose section): {sorted(missing)}"
    )


def test_nginx_upstreams_point_at_compose_services_and_their_ports() -> None:
    template = NGINX_TEMPLATE.read_text(encoding="utf-8")
    servers = re.findall(r"^\s*server\s+([a-z0-9-]+):(\d+)", template, re.MULTILINE)
    assert servers
    for host, port in servers:
        assert host in services(), f"nginx upstream {host} is not a compose service"
        env = environment(services()[host])
        expected = env.get("HTTP_PORT") or ("15672" if host == "rabbitmq" else None)
        assert port == expected, f"nginx → {host}:{port}, service listens on {expected}"
    # One name for every replica of the scalable query service, re-resolved
    # through Docker's DNS (127.0.0.11) so nginx follows restarts and scaling.
    assert sorted(host for host, _ in servers) == ["command-service", "query"]
    assert re.search(r"^resolver 127\.0\.0\.11 valid=\d+s", template, re.MULTILINE)
    servers_lines = re.findall(r"^\s*server [a-z].*$", template, re.MULTILINE)
    assert all(" resolve " in line for line in servers_lines), servers_lines


def test_the_query_service_scales() -> None:
    query = services()["query"]
    assert query["deploy"]["replicas"] == 2
    # Nothing that would make two replicas collide.
    assert "container_name" not in query
    assert "ports" not in query
    assert "hostname" not in query


def _check_secrets() -> Any:
    spec = importlib.util.spec_from_file_location(
        "check_secrets", ROOT / "docker" / "check_secrets.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_placeholder_secrets_of_env_example_are_refused_by_name() -> None:
    example = dict(
        re.findall(
            r"^([A-Z][A-Z0-9_]*)=(.*)$",
            (ROOT / ".env.example").read_text(encoding="utf-8"),
            re.MULTILINE,
        )
    )
    checked = environment(services()["secrets-check"])
    found = _check_secrets().problems({name: example[name] for name in checked})
    refused = {line.split()[0] for line in found}
    assert refused == set(checked) - {"RABBITMQ_DEFAULT_USER"}
    assert "COMMAND_TOKEN is still the placeholder" in "\n".join(found)


def test_real_secrets_pass_the_check_and_every_service_waits_for_it() -> None:
    checked = environment(services()["secrets-check"])
    assert _check_secrets().problems(checked) == []
    assert _check_secrets().problems(checked | {"RABBITMQ_DEFAULT_PASS": "guest"})
    assert _check_secrets().problems(checked | {"COMMAND_TOKEN": "short"}) == [
        "COMMAND_TOKEN is shorter than 16 characters"
    ]
    volumes = services()["secrets-check"]["volumes"]
    assert volumes == ["./docker/check_secrets.py:/usr/local/bin/check-secrets:ro"]


def test_nginx_template_variables_are_set_by_compose() -> None:
    template = NGINX_TEMPLATE.read_text(encoding="utf-8")
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template))
    assert variables
    assert variables <= set(environment(services()["nginx"]))


def test_the_tls_override_is_valid_and_mounts_a_certificate() -> None:
    override = yaml.safe_load(
        (ROOT / "docker-compose.tls.yml").read_text(encoding="utf-8")
    )
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not list(validator.iter_errors(override))
    resolved = interpolate(override, DOTENV)
    nginx = resolved["services"]["nginx"]
    assert nginx["ports"] == ["8443:8443"]
    assert "./tls:/etc/nginx/tls:ro" in nginx["volumes"]
    assert set(interpolate_names(override)) <= set(
        re.findall(
            r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE
        )
    )


def interpolate_names(document: Any) -> list[str]:
    return re.findall(r"\$\{([A-Z][A-Z0-9_]*)", json.dumps(document))


CLUSTER_FILE = ROOT / "docker-compose.cluster.yml"
CLUSTER_NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
COOKIE = {"RABBITMQ_ERLANG_COOKIE": "erlang-cookie-0123456789abcdef"}


APPENDED_SEQUENCES = {"volumes", "ports"}
"""Sequences compose merges by appending; any other (healthcheck.test,
command) the override replaces."""


def _merged(base: Any, override: Any) -> Any:
    """`override` on `base` as compose merges files: mappings key by key, the
    sequences of APPENDED_SEQUENCES by appending what is new, the rest replaced."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        if key in APPENDED_SEQUENCES and isinstance(base.get(key), list):
            merged[key] = base[key] + [item for item in value if item not in base[key]]
        else:
            merged[key] = _merged(base[key], value) if key in base else value
    return merged


def cluster_services() -> dict[str, dict[str, Any]]:
    """docker-compose.yml with docker-compose.cluster.yml, with a complete .env."""
    override = yaml.safe_load(CLUSTER_FILE.read_text(encoding="utf-8"))
    merged = interpolate(_merged(raw_compose(), override), DOTENV | COOKIE)
    found = merged["services"]
    assert isinstance(found, dict)
    return found


def test_the_cluster_override_is_valid_and_needs_the_cookie() -> None:
    override = yaml.safe_load(CLUSTER_FILE.read_text(encoding="utf-8"))
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not list(validator.iter_errors(override))
    with pytest.raises(MissingVariableError, match="RABBITMQ_ERLANG_COOKIE"):
        interpolate(override, DOTENV)
    listed = set(
        re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M)
    )
    assert set(interpolate_names(override)) <= listed
    # The secrets check refuses .env.example's cookie and a short one.
    checked = environment(cluster_services()["secrets-check"])
    assert _check_secrets().problems(checked) == []
    placeholder = checked | {"RABBITMQ_ERLANG_COOKIE": "change-me-erlang-cookie"}
    assert (
        _check_secrets()
        .problems(placeholder)[0]
        .startswith("RABBITMQ_ERLANG_COOKIE is still the placeholder")
    )
    assert _check_secrets().problems(checked | {"RABBITMQ_ERLANG_COOKIE": "short"})


def test_the_cluster_nodes_find_each_other_and_share_a_cookie() -> None:
    conf = (ROOT / "docker" / "rabbitmq" / "cluster.conf").read_text()
    listed = re.findall(
        r"^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$", conf, re.M
    )
    assert listed == [f"rabbit@{node}" for node in CLUSTER_NODES]
    found = cluster_services()
    cookies = set()
    for node in CLUSTER_NODES:
        service = found[node]
        assert service["image"] == "rabbitmq:4.1-management", node
        assert service["hostname"] == node
        assert (
            "./docker/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro"
            in service["volumes"]
        )
        data = [v for v in service["volumes"] if v.endswith(":/var/lib/rabbitmq")]
        assert len(data) == 1, node  # a data volume of its own
        env = environment(service)
        assert (
            env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] == env["RABBITMQ_CTL_ERL_ARGS"]
        )
        cookies.add(env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"])
        assert service["healthcheck"]["test"][:5] == [
            "CMD",
            "rabbitmqctl",
            "-q",
            "await_online_nodes",
            "3",
        ]
    assert cookies == {f"-setcookie {COOKIE['RABBITMQ_ERLANG_COOKIE']}"}
    data_volumes = {
        v for node in CLUSTER_NODES for v in found[node]["volumes"] if "/var/lib" in v
    }
    assert len(data_volumes) == len(CLUSTER_NODES)


def test_every_broker_client_lists_the_three_nodes_and_waits_for_all() -> None:
    found = cluster_services()
    clients = [name for name, s in services().items() if "AMQP_URL" in environment(s)]
    assert sorted(clients) == ["command-service", "projector", "query", "sync-worker"]
    for name in clients:
        service = found[name]
        url = environment(service)["AMQP_URL"]
        hosts = re.findall(r"@([a-z0-9-]+):5672/\?heartbeat=10", url)
        assert hosts == list(CLUSTER_NODES), name
        if name == "query":
            continue  # reads never wait for the broker (notices are hints)
        for node in CLUSTER_NODES:
            assert service["depends_on"][node] == {"condition": "service_healthy"}
        # What the service itself accepts as AMQP_URL.
        settings = SETTINGS_OF_MODULE[module_of(service)]
        assert settings is not None
        settings(_env_file=None, **_settings_env(service))


def _settings_env(service: dict[str, Any]) -> dict[str, Any]:
    env = environment(service)
    return {k.lower(): v for k, v in env.items() if k not in HEALTHCHECK_VARIABLES}
