"""Pulumi resources of one connector deployment: operators, RabbitMQ, MongoDB and the chart."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pulumi
import pulumi_kubernetes as k8s

CHART: Final = Path(__file__).resolve().parents[1] / "helm" / "randomuser-connector"
# Pinned versions of what the program installs; bump them deliberately.
RABBITMQ_OPERATOR_MANIFEST: Final = (
    "https://github.com/rabbitmq/cluster-operator/releases/download/"
    "v2.14.0/cluster-operator.yml"
)
RABBITMQ_IMAGE: Final = "rabbitmq:4.1-management"
MONGODB_OPERATOR_REPO: Final = "https://mongodb.github.io/helm-charts"
MONGODB_OPERATOR_CHART: Final = "community-operator"
MONGODB_OPERATOR_VERSION: Final = "0.13.0"
MONGODB_VERSION: Final = "7.0.14"
DATABASE: Final = "randomuser"
APP_USER: Final = "connector"


@dataclass(frozen=True)
class Settings:
    """What one stack chooses (Pulumi.<stack>.yaml); the secrets stay Outputs."""

    namespace: str
    rabbitmq_replicas: int
    mongodb_members: int
    image_repository: str
    gateway_image_repository: str
    image_tag: str
    rabbitmq_password: pulumi.Input[str]
    mongodb_password: pulumi.Input[str]
    command_token: pulumi.Input[str]
    chart_values: dict[str, Any]

    @staticmethod
    def from_config(config: pulumi.Config) -> Settings:
        """Read the stack's configuration; the three secrets are required."""
        return Settings(
            namespace=config.get("namespace") or "randomuser",
            rabbitmq_replicas=config.get_int("rabbitmqReplicas") or 3,
            mongodb_members=config.get_int("mongodbMembers") or 3,
            image_repository=config.get("imageRepository") or "randomuser-connector",
            gateway_image_repository=config.get("gatewayImageRepository")
            or "randomuser-connector-gateway",
            image_tag=config.get("imageTag") or "0.1.0",
            rabbitmq_password=config.require_secret("rabbitmqPassword"),
            mongodb_password=config.require_secret("mongodbPassword"),
            command_token=config.require_secret("commandToken"),
            chart_values=config.get_object("chartValues") or {},
        )


@dataclass(frozen=True)
class Outputs:
    """What the stack exports."""

    namespace: pulumi.Output[str]
    gateway_service: pulumi.Output[str]


def _rabbitmq(
    settings: Settings, namespace: k8s.core.v1.Namespace
) -> tuple[k8s.apiextensions.CustomResource, pulumi.Output[str]]:
    """The RabbitMQ Cluster Operator and a quorum-ready RabbitMQ 4 cluster."""
    operator = k8s.yaml.v2.ConfigFile(
        "rabbitmq-cluster-operator", file=RABBITMQ_OPERATOR_MANIFEST
    )
    name = "connector-rabbitmq"
    cluster = k8s.apiextensions.CustomResource(
        name,
        api_version="rabbitmq.com/v1beta1",
        kind="RabbitmqCluster",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace.metadata.name
        ),
        spec={
            "replicas": settings.rabbitmq_replicas,
            "image": RABBITMQ_IMAGE,
            "rabbitmq": {
                # The connector's own account instead of the operator's
                # generated default user, so that its URL is known here.
                "additionalConfig": pulumi.Output.concat(
                    f"default_user = {APP_USER}\n",
                    "default_pass = ",
                    settings.rabbitmq_password,
                    "\n",
                ),
            },
            "persistence": {"storage": "10Gi"},
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"memory": "1Gi"},
            },
        },
        opts=pulumi.ResourceOptions(depends_on=[operator]),
    )
    url = pulumi.Output.concat(
        f"amqp://{APP_USER}:",
        settings.rabbitmq_password,
        f"@{name}.",
        namespace.metadata.name,
        ".svc:5672/",
    )
    return cluster, pulumi.Output.secret(url)


def _mongodb(
    settings: Settings, namespace: k8s.core.v1.Namespace
) -> tuple[k8s.apiextensions.CustomResource, pulumi.Output[str]]:
    """The MongoDB Community operator and a replica set with the connector's user."""
    ns = namespace.metadata.name
    operator = k8s.helm.v3.Release(
        "mongodb-community-operator",
        chart=MONGODB_OPERATOR_CHART,
        version=MONGODB_OPERATOR_VERSION,
        namespace=ns,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=MONGODB_OPERATOR_REPO),
        values={"operator": {"watchNamespace": settings.namespace}},
    )
    password = k8s.core.v1.Secret(
        "connector-mongodb-password",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="connector-mongodb-password", namespace=ns
        ),
        string_data={"password": settings.mongodb_password},
    )
    name = "connector-mongodb"
    replica_set = k8s.apiextensions.CustomResource(
        name,
        api_version="mongodbcommunity.mongodb.com/v1",
        kind="MongoDBCommunity",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns),
        spec={
            "type": "ReplicaSet",
            "members": settings.mongodb_members,
            "version": MONGODB_VERSION,
            "security": {"authentication": {"modes": ["SCRAM"]}},
            "users": [
                {
                    "name": APP_USER,
                    "db": "admin",
                    "passwordSecretRef": {"name": "connector-mongodb-password"},
                    "roles": [{"name": "readWrite", "db": DATABASE}],
                    "scramCredentialsSecretName": "connector-mongodb-scram",
                }
            ],
        },
        opts=pulumi.ResourceOptions(depends_on=[operator, password]),
    )
    members = ",".join(
        f"{name}-{index}.{name}-svc.{{ns}}.svc:27017"
        for index in range(settings.mongodb_members)
    )
    url = pulumi.Output.all(ns, settings.mongodb_password).apply(
        lambda args: (
            f"mongodb://{APP_USER}:{args[1]}@{members.format(ns=args[0])}/"
            f"{DATABASE}?replicaSet={name}&authSource=admin"
        )
    )
    return replica_set, pulumi.Output.secret(url)


def deploy(settings: Settings) -> Outputs:
    """Every resource of one deployment; the chart waits for broker and database."""
    namespace = k8s.core.v1.Namespace(
        "namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=settings.namespace)
    )
    rabbitmq, amqp_url = _rabbitmq(settings, namespace)
    mongodb, mongo_url = _mongodb(settings, namespace)
    secret = k8s.core.v1.Secret(
        "connector-secrets",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="connector-secrets", namespace=namespace.metadata.name
        ),
        string_data={
            "AMQP_URL": amqp_url,
            "MONGO_URL": mongo_url,
            "COMMAND_TOKEN": settings.command_token,
        },
    )
    values: dict[str, Any] = {
        "existingSecret": "connector-secrets",
        "image": {"repository": settings.image_repository, "tag": settings.image_tag},
        "gateway": {
            "image": {
                "repository": settings.gateway_image_repository,
                "tag": settings.image_tag,
            }
        },
        # Only the connector's processes that use them reach the broker and
        # the database (the operators label their pods like this).
        "networkPolicy": {
            "enabled": True,
            "rabbitmq": {
                "podSelector": {
                    "matchLabels": {"app.kubernetes.io/name": "connector-rabbitmq"}
                },
                "ports": [5672],
                # The cluster's own members (clustering, Erlang distribution).
                "extraFrom": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "connector-rabbitmq"
                            }
                        }
                    }
                ],
            },
            "mongodb": {
                "podSelector": {"matchLabels": {"app": "connector-mongodb-svc"}},
                "ports": [27017],
                "extraFrom": [
                    {"podSelector": {"matchLabels": {"app": "connector-mongodb-svc"}}},
                    {
                        "podSelector": {
                            "matchLabels": {"name": "mongodb-kubernetes-operator"}
                        }
                    },
                ],
            },
        },
    }
    release = k8s.helm.v3.Release(
        "connector",
        name="connector",
        chart=str(CHART),
        namespace=namespace.metadata.name,
        values=_merge(values, settings.chart_values),
        # Rollouts that never get ready fail the update instead of hanging.
        atomic=True,
        timeout=600,
        opts=pulumi.ResourceOptions(depends_on=[rabbitmq, mongodb, secret]),
    )
    gateway = release.name.apply(lambda name: f"{name}-randomuser-connector-gateway")
    return Outputs(namespace=namespace.metadata.name, gateway_service=gateway)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
