"""Count the hand-written plumbing of issue 18: OpenAPI, middleware, retries.

    python scripts/plumbing_lines.py

OpenAPI is the generator and the two route tables; the middleware is
common/http.py; retries are common/retrying.py and every tenacity policy (the
lines of each `AsyncRetrying(...)` expression in the services). Prose counts the
lines of the route tables that hold a summary or description the served
documents show (string literals with a space, docstrings excluded).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

OPENAPI: Final = (
    "common/openapi.py",
    "query_service/openapi.py",
    "command_service/openapi.py",
)
ROUTE_TABLES: Final = OPENAPI[1:]
MIDDLEWARE: Final = ("common/http.py",)
RETRY_HELPERS: Final = ("common/retrying.py",)
SERVICES: Final = ("common", "command_service", "query_service", "sync_worker")


def lines(path: str) -> int:
    return len(Path(path).read_text().splitlines())


def policy_lines() -> int:
    return sum(
        node.end_lineno - node.lineno + 1
        for folder in SERVICES
        for path in sorted(Path(folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "AsyncRetrying"
        and node.end_lineno is not None
    )


def prose_lines(path: str) -> int:
    tree = ast.parse(Path(path).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    covered = {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and " " in node.value
        and id(node) not in docstrings
        and node.end_lineno is not None
        for line in range(node.lineno, node.end_lineno + 1)
    }
    return len(covered)


def main() -> None:
    openapi = sum(map(lines, OPENAPI))
    middleware = sum(map(lines, MIDDLEWARE))
    retries = sum(map(lines, RETRY_HELPERS)) + policy_lines()
    print(f"OpenAPI     {openapi:5d}  ({', '.join(OPENAPI)})")
    print(f"  prose     {sum(map(prose_lines, ROUTE_TABLES)):5d}  (route tables)")
    print(f"middleware  {middleware:5d}  ({', '.join(MIDDLEWARE)})")
    print(f"retries     {retries:5d}  (common/retrying.py and the tenacity policies)")
    print(f"total       {openapi + middleware + retries:5d}")
    print(f"without OpenAPI {middleware + retries:5d}")


if __name__ == "__main__":
    main()
