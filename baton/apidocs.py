"""`baton docs`: the AsyncAPI of the topics and the OpenAPI of each service, written to docs/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shared import asyncapi

DOCS = Path(__file__).resolve().parent.parent / "docs"
SERVICES = ("intake", "router", "sla_clock", "reporting")


def openapi(module: str) -> dict[str, Any]:
    """A service's OpenAPI document, from its app (nothing is started or connected)."""
    import importlib

    app = importlib.import_module(f"{module}.app").build_app()
    doc: dict[str, Any] = app.openapi()
    return doc


def rendered() -> dict[Path, str]:
    """Every generated document, by the path it lives at."""
    out = {DOCS / "asyncapi.yaml": yaml.safe_dump(asyncapi.build(), sort_keys=False, width=100)}
    for module in SERVICES:
        text = json.dumps(openapi(module), indent=2, sort_keys=True) + "\n"
        out[DOCS / "openapi" / f"{module.replace('_', '-')}.json"] = text
    return out


def write() -> list[Path]:
    written = []
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
