"""Lint: tests name files only inside the repository (no host paths, nothing above the root)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Final

# Absolute paths under these name the operating system or a container image, not a
# checkout: a test may name /usr/bin/chromium or nginx's /etc/nginx/conf.d. Anything else
# absolute (/work/..., /home/...) is a file on one machine.
SYSTEM_ROOTS: Final = (
    "/usr/",
    "/etc/",
    "/var/",
    "/dev/",
    "/proc/",
    "/sys/",
    "/bin",
    "/tmp/",  # noqa: S108 - a prefix to recognise, not a file we write
    "/opt/",
)

HOST_ROOTS: Final = {
    "work",
    "home",
    "root",
    "mnt",
    "srv",
    "Users",
    "data",
    "media",
    "shared",
    "workspace",
}


def _is_host_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or " " in text or "\n" in text:
        return False
    first = text.split("/")[1]
    # URL paths ("/queries/countries", "/_sim/served") have one short lowercase segment
    # that is not a directory of a Linux root; host paths start with one.
    return first in HOST_ROOTS and not text.startswith(SYSTEM_ROOTS)


def problems(path: Path, root: Path) -> list[str]:
    """Every path in `path` that is absolute on the host or leaves `root`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    depth = len(path.resolve().relative_to(root.resolve()).parts) - 1
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _is_host_path(text):
                found.append(f"{where}: absolute host path {text!r}")
            elif ".." in Path(text).parts and "/" in text:
                found.append(f"{where}: path leaves its folder {text!r}")
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
            and node.slice.value > depth
        ):
            found.append(
                f"{where}: parents[{node.slice.value}] of a file {depth} folders deep "
                "leaves the repository"
            )
    return found


def main(argv: list[str]) -> int:
    """Check every .py file under the folders given (default tests/); 1 on any problem."""
    root = Path.cwd()
    folders = [Path(a) for a in argv] or [Path("tests")]
    found = [
        p
        for f in folders
        for file in sorted(f.rglob("*.py"))
        for p in problems(file, root)
    ]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
