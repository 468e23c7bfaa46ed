"""Leftovers of a stack: children die with their parent, and `make run` stops the rest.

These start short-lived `sleep` processes (local I/O, no services).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from devstack import runstate
from devstack.processes import Process
from tests.support.eventually import wait_until

PARENT = """
import subprocess, sys, time
from devstack.processes import die_with_parent
child = subprocess.Popen(["sleep", "60"], start_new_session=True,
                         preexec_fn=die_with_parent)
print(child.pid, flush=True)
time.sleep(60)
"""


def gone(pid: int) -> bool:
    return runstate.start_time(pid) is None or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_child_of_the_stack_dies_when_its_parent_is_killed_hard() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert not gone(child)

    parent.kill()
    parent.wait()
    parent.stdout.close()

    wait_until(lambda: gone(child), timeout=10, what="the child gone")


def test_make_run_finds_the_children_an_earlier_stack_left_and_stops_them(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stack.json"
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    log = (tmp_path / "log").open("ab")
    try:
        dead_parent = subprocess.Popen(["true"])
        dead_parent.wait()
        runstate.write(
            state, dead_parent.pid, [Process("sleeper", orphan, tmp_path / "log", log)]
        )

        parent, children = runstate.leftovers(state)
        assert parent is None
        assert [(c.name, c.pid) for c in children] == [("sleeper", orphan.pid)]

        runstate.stop(children, timeout=5)
        assert orphan.wait(timeout=5) == -signal.SIGTERM
        assert runstate.leftovers(state) == (None, [])
    finally:
        log.close()
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)


def test_a_stack_whose_parent_still_runs_is_reported_as_running(
    tmp_path: Path,
) -> None:
    state = tmp_path / "stack.json"
    runstate.write(state, os.getpid(), [])

    parent, children = runstate.leftovers(state)

    assert parent is not None
    assert (parent.pid, children) == (os.getpid(), [])
