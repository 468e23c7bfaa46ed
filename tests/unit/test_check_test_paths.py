"""The lint check that keeps tests portable: host paths and paths above the root fail.

The paths below are made-up inputs for the check (written into a temporary
tree, never opened); none of them names a real folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.check_test_paths import problems

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_test_paths.py"


def write(root: Path, text: str) -> Path:
    file = root / "tests" / "unit" / "test_x.py"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    return file


@pytest.mark.parametrize(
    "source",
    [
        'SAMPLES = "/srv/elsewhere/randomuser_samples"\n',
        'HOME = "/home/me/data.json"\n',
        'UP = "../elsewhere/x.json"\n',
        "from pathlib import Path\nROOT = Path(__file__).parents[3]\n",
    ],
)
def test_a_path_outside_the_repository_is_reported(tmp_path: Path, source: str) -> None:
    file = write(tmp_path, source)
    assert len(problems(file, tmp_path)) == 1


@pytest.mark.parametrize(
    "source",
    [
        'URL = "/queries/countries"\n',
        'CHROMIUM = "/usr/bin/chromium"\n',
        "from pathlib import Path\nROOT = Path(__file__).parents[2]\n",
        'NAME = "fixtures/randomuser/a.json"\n',
    ],
)
def test_repository_paths_urls_and_system_tools_pass(
    tmp_path: Path, source: str
) -> None:
    file = write(tmp_path, source)
    assert problems(file, tmp_path) == []


def test_the_script_exits_non_zero_and_names_the_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, 'A = 1\nSAMPLES = "/srv/elsewhere/x.json"\n')
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "tests/unit/test_x.py:2" in result.stdout
