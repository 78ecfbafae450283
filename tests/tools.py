"""External tools the ``tools``-marked tests run (``make tools`` installs or builds them)."""

from __future__ import annotations

import itertools
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def topic_creations(script: str) -> Iterator[tuple[list[str], dict[str, list[str]]]]:
    """Each line of a shell ``script`` that creates something (``--create``): its words, and
    the values of its ``--flag value`` options (a flag given twice has two)."""
    for line in script.splitlines():
        argv = shlex.split(line)
        if "--create" not in argv:
            continue
        opts: dict[str, list[str]] = {}
        for flag, value in itertools.pairwise(argv):
            if flag.startswith("--") and not value.startswith("--"):
                opts.setdefault(flag, []).append(value)
        yield argv, opts


def tool(name: str) -> str:
    """The path of ``name`` on PATH or in ``.venv/bin`` (where ``make tools`` builds helm and
    docker-compose); the test fails, never skips, when it is in neither."""
    found = shutil.which(name) or next(
        (str(p) for p in (REPO / ".venv" / "bin" / name,) if p.exists()), None
    )
    if found is None:
        pytest.fail(f"{name} not found on PATH or in .venv/bin: `make tools` builds it")
    return found
