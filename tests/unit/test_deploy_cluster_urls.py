"""Cluster URLs in the Helm chart and in the settings: a node list for AMQP_URL, a replica set for MONGO_URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import yaml
from pydantic import ValidationError

from command_service.settings import CommandSettings
from common.amqp_cluster import split_urls
from tests.unit.test_deploy_helm import CHART, TEST_VALUES, helm

if TYPE_CHECKING:
    from pathlib import Path

NODES = (
    "amqps://u:p@rmq-0.rmq:5671/v,amqps://u:p@rmq-1.rmq:5671/v,"
    "amqps://u:p@rmq-2.rmq:5671/v"
)
REPLICA_SET = "mongodb://u:p@mongo-0:27017,mongo-1:27017,mongo-2:27017/?replicaSet=rs0"


def _render(tmp_path: Path, amqp_url: str) -> tuple[int, str, str]:
    values = tmp_path / "cluster.yaml"
    values.write_text(
        yaml.safe_dump({"rabbitmq": {"url": amqp_url}, "mongodb": {"url": REPLICA_SET}})
    )
    result = helm(
        "template", "rel", str(CHART), "-f", str(TEST_VALUES), "-f", str(values)
    )
    return result.returncode, result.stdout, result.stderr


def test_the_chart_takes_every_node_of_a_cluster_and_a_replica_set(
    tmp_path: Path,
) -> None:
    code, out, err = _render(tmp_path, NODES)
    assert code == 0, err
    [secret] = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Secret"]
    assert secret["stringData"]["AMQP_URL"] == NODES
    assert secret["stringData"]["MONGO_URL"] == REPLICA_SET


def test_the_chart_refuses_a_node_list_with_a_non_amqp_member(tmp_path: Path) -> None:
    code, _, err = _render(tmp_path, "amqps://u:p@a:5671/,http://b/")
    assert code != 0
    assert "rabbitmq" in err


def test_amqp_url_takes_a_comma_separated_node_list() -> None:
    settings = CommandSettings(
        amqp_url=" amqp://a:5672/ , amqp://b:5672/,", _env_file=None
    )
    assert split_urls(settings.amqp_url) == ("amqp://a:5672/", "amqp://b:5672/")


@pytest.mark.parametrize("bad", ["", " , ", "amqp://a:5672/,ftp://b/", "a:5672"])
def test_a_bad_node_list_is_refused_naming_the_setting(bad: str) -> None:
    with pytest.raises(ValidationError, match="amqp_url"):
        CommandSettings(amqp_url=bad, _env_file=None)
