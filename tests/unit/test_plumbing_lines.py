"""The count of issue 18's plumbing: policy spans and the route tables' prose."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scripts.plumbing_lines import policy_lines, prose_lines

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

POLICY = """\
retrying = AsyncRetrying(
    retry=retry_if_exception_type(OSError),
    reraise=True,
)
other = Retrying(stop=None)
"""

ROUTE_TABLE = '''\
"""A module docstring, not counted."""

PARAMETER = Parameter(
    "If-None-Match",
    "header",
    "An ETag from an earlier answer: 304 while "
    "the snapshot is the same.",
)
'''


def test_a_policy_counts_the_lines_of_its_async_retrying_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "x.py").write_text(POLICY)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "y.py").write_text(POLICY)
    monkeypatch.chdir(tmp_path)

    assert policy_lines() == 4


def test_prose_is_the_lines_of_strings_with_spaces_but_not_docstrings(
    tmp_path: Path,
) -> None:
    table = tmp_path / "openapi.py"
    table.write_text(ROUTE_TABLE)

    assert prose_lines(str(table)) == 2
