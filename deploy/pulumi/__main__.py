"""Entry point of `pulumi up`: the connector with its broker and database in one stack."""

from __future__ import annotations

import pulumi
from connector_infra import Settings, deploy

outputs = deploy(Settings.from_config(pulumi.Config()))
pulumi.export("namespace", outputs.namespace)
pulumi.export("gateway_service", outputs.gateway_service)
