"""External tools the ``tools``-marked tests run (``make tools`` installs or builds them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """The path of ``name`` on PATH or in ``.venv/bin`` (where ``make tools`` builds helm and
    docker-compose); the test fails, never skips, when it is in neither."""
    found = shutil.which(name) or next(
        (str(p) for p in (REPO / ".venv" / "bin" / name,) if p.exists()), None
    )
    if found is None:
        pytest.fail(f"{name} not found on PATH or in .venv/bin: `make tools` builds it")
    return found
