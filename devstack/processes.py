"""A stack's child processes: what each is, and dying with the parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    pass


@dataclass
class Process:
    """One running child process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    ready_url: str | None = None
    service: str | None = None
    """The name its health body must give."""
    instance: str | None = None
    """The instance id it was given (INSTANCE_ID); its health body must give it."""


def die_with_parent() -> None:
    """In a child, before exec: ask Linux to SIGTERM it when its parent dies.

    So a stack whose parent is killed (kill -9, a crashed test run) does not
    leave its services behind. Linux delivers the signal when the parent
    *thread* ends: start stacks from a thread that outlives them. A no-op
    where prctl is missing.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG: Final = 1


SYSTEM_BIN_DIRS: Final = ("/usr/sbin", "/usr/local/sbin", "/sbin")
"""Where Debian's packages put daemons (nginx, rabbitmq-server), which a
non-root PATH may lack."""


def system_tool(name: str) -> str | None:
    """A system tool (`apt-get install`ed daemon): on PATH, else in the sbin
    folders; None when it is not installed."""
    return shutil.which(name) or shutil.which(
        name, path=os.pathsep.join(SYSTEM_BIN_DIRS)
    )
