"""The vendored Randomuser sample responses under tests/fixtures/randomuser/."""

from __future__ import annotations

from pathlib import Path
from typing import Final

SAMPLES: Final = Path(__file__).resolve().parents[1] / "fixtures" / "randomuser"


def sample_bytes(name: str) -> bytes:
    """The bytes of one vendored sample, by file name."""
    return (SAMPLES / name).read_bytes()
