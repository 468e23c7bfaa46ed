"""Every service stops cleanly on SIGTERM, after finishing what it was doing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from contracts.topology import Topology
from devstack.stack import Stack
from tests.e2e.conftest import StackClient, stack_config
from tests.support.broker import delete_topology


async def test_every_service_exits_cleanly_on_sigterm(amqp_url, mongo_url) -> None:
    with tempfile.TemporaryDirectory(prefix="e2e-shutdown-") as tmp:
        config = stack_config(amqp_url, mongo_url, Path(tmp))
        stack = Stack(config)
        stack.start()
        try:
            client = StackClient(stack)
            await client.sync(results=100, seed="beforestop")
            processes = list(stack.processes)
        finally:
            stack.stop()
            await delete_topology(amqp_url, Topology(config.amqp_namespace))

        exit_codes = {process.name: process.popen.returncode for process in processes}
        assert exit_codes == dict.fromkeys(exit_codes, 0), exit_codes
        worker_log = (Path(tmp) / "logs" / "sync-worker.log").read_text()
        assert "Traceback" not in worker_log
