"""deploy/pulumi: the resources the program declares, run against Pulumi's mocks."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

import pulumi
import pytest

PROGRAM = Path(__file__).resolve().parents[2] / "deploy" / "pulumi"


class Recorder(pulumi.runtime.Mocks):
    """Every resource the program registers, with its inputs."""

    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        self.resources[args.name] = (args.typ, dict(args.inputs))
        outputs = dict(args.inputs)
        outputs.setdefault("name", args.name)
        return f"{args.name}-id", outputs

    def call(self, args: Any) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture(scope="module")
def program() -> Any:
    spec = importlib.util.spec_from_file_location(
        "connector_infra", PROGRAM / "connector_infra.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["connector_infra"] = module
    spec.loader.exec_module(module)
    return module


def is_secret(value: Any) -> bool:
    """Whether a mocked input is Pulumi's wrapper of a secret value."""
    return (
        isinstance(value, dict)
        and value.get(pulumi.runtime.rpc._special_sig_key)
        == pulumi.runtime.rpc._special_secret_sig
    )


def settings(program: Any, **overrides: Any) -> Any:
    values = {
        "namespace": "randomuser",
        "rabbitmq_replicas": 3,
        "mongodb_members": 3,
        "image_repository": "registry.example.com/randomuser-connector",
        "gateway_image_repository": "registry.example.com/randomuser-connector-gateway",
        "image_tag": "0.1.0",
        "rabbitmq_password": pulumi.Output.secret("rabbit-password-0123"),
        "mongodb_password": pulumi.Output.secret("mongo-password-0123"),
        "command_token": pulumi.Output.secret("command-token-0123456789"),
        "chart_values": {"gateway": {"replicaCount": 3}},
    }
    return program.Settings(**(values | overrides))


def run(program: Any) -> Recorder:
    """Declare the program in a thread of its own with its own event loop.

    Pulumi's mock monitor makes an event loop in each executor thread it
    registers a resource from and never closes them (ResourceWarnings, errors
    here): the loops it makes are recorded and closed afterwards.
    """
    result: list[Recorder] = []
    made: list[asyncio.AbstractEventLoop] = []

    def ensure_event_loop() -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            made.append(loop)
            return loop

    def in_thread() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            result.append(_declare(program))
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi.runtime.mocks, "_ensure_event_loop", ensure_event_loop)
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join(timeout=60)
    for loop in made:
        loop.close()
    assert result, "the program did not finish"
    return result[0]


def _declare(program: Any) -> Recorder:
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="randomuser-connector", stack="test")

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def declare() -> Any:
        outputs = program.deploy(settings(program))
        return pulumi.Output.all(outputs.namespace, outputs.gateway_service)

    declare()
    return recorder


def test_the_chart_is_installed_with_the_managed_broker_and_database(program: Any):
    resources = run(program).resources
    kind, release = resources["connector"]
    assert kind == "kubernetes:helm.sh/v3:Release"
    assert release["chart"] == str(PROGRAM.parent / "helm" / "randomuser-connector")
    values = release["values"]
    assert values["existingSecret"] == "connector-secrets"
    assert values["image"]["repository"] == "registry.example.com/randomuser-connector"
    # chartValues from the stack's configuration win, merged key by key.
    assert values["gateway"]["replicaCount"] == 3
    assert values["gateway"]["image"]["tag"] == "0.1.0"
    assert release["atomic"] is True


def test_rabbitmq_is_a_rabbitmq_4_cluster_from_the_cluster_operator(program: Any):
    resources = run(program).resources
    kind, operator = resources["rabbitmq-cluster-operator"]
    assert kind == "kubernetes:yaml/v2:ConfigFile"
    assert operator["file"] == program.RABBITMQ_OPERATOR_MANIFEST
    kind, cluster = resources["connector-rabbitmq"]
    assert kind == "kubernetes:rabbitmq.com/v1beta1:RabbitmqCluster"
    # The spec holds the broker password (additionalConfig): kept secret.
    assert is_secret(cluster["spec"])
    spec = cluster["spec"]["value"]
    assert spec["replicas"] == 3
    assert spec["image"].startswith("rabbitmq:4.")
    assert "default_user = connector" in spec["rabbitmq"]["additionalConfig"]


def test_mongodb_is_a_replica_set_with_a_read_write_user(program: Any):
    resources = run(program).resources
    kind, operator = resources["mongodb-community-operator"]
    assert kind == "kubernetes:helm.sh/v3:Release"
    assert operator["repositoryOpts"]["repo"] == "https://mongodb.github.io/helm-charts"
    kind, replica_set = resources["connector-mongodb"]
    assert kind == "kubernetes:mongodbcommunity.mongodb.com/v1:MongoDBCommunity"
    spec = replica_set["spec"]
    assert (spec["type"], spec["members"]) == ("ReplicaSet", 3)
    (user,) = spec["users"]
    assert user["roles"] == [{"name": "readWrite", "db": "randomuser"}]
    assert user["passwordSecretRef"]["name"] == "connector-mongodb-password"


def test_the_connection_secret_points_at_the_managed_services(program: Any):
    resources = run(program).resources
    kind, secret = resources["connector-secrets"]
    assert kind == "kubernetes:core/v1:Secret"
    assert is_secret(secret["stringData"]), "the URLs hold passwords: kept secret"
    data = secret["stringData"]["value"]
    assert set(data) == {"AMQP_URL", "MONGO_URL", "COMMAND_TOKEN"}
    assert data["AMQP_URL"] == (
        "amqp://connector:rabbit-password-0123@connector-rabbitmq.randomuser.svc:5672/"
    )
    assert data["MONGO_URL"].startswith("mongodb://connector:mongo-password-0123@")
    assert (
        "connector-mongodb-2.connector-mongodb-svc.randomuser.svc:27017"
        in (data["MONGO_URL"])
    )
    assert data["MONGO_URL"].endswith(
        "/randomuser?replicaSet=connector-mongodb&authSource=admin"
    )


def test_only_the_app_reaches_the_broker_and_the_database(program: Any):
    values = run(program).resources["connector"][1]["values"]
    policy = values["networkPolicy"]
    assert policy["enabled"] is True
    assert policy["rabbitmq"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "connector-rabbitmq"
    }
    assert policy["mongodb"]["podSelector"]["matchLabels"] == {
        "app": "connector-mongodb-svc"
    }
