"""Checked-in JSON-schema snapshots of every event payload, one file per type and version.

``docs/schemas/<type>.v<N>.json`` is the schema of ``<type>``'s payload at dataversion N, as
pydantic generates it. The current version's snapshot must equal the model; every earlier one
must still exist with its upcaster (``tests/unit/test_event_schemas.py``). Changing a payload
therefore means: a new dataversion, an upcaster from the previous one, the old model kept in
``EARLIER`` and a new snapshot (``python -m shared.event_schemas`` writes the missing ones and
refuses to overwrite a changed one).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from shared.events import CURRENT_VERSION, EARLIER, PAYLOADS, EventType, Model

FOLDER = Path(__file__).resolve().parents[1] / "docs" / "schemas"
"""Beside the other generated interface documents: contractor systems read them too; the
service image does not need them."""


def schema(model: type[Model]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


def path(event_type: EventType, version: int) -> Path:
    return FOLDER / f"{event_type.value}.v{version}.json"


def expected() -> dict[Path, dict[str, Any]]:
    """Every snapshot there must be: each type's current version and every earlier one kept."""
    out = {path(t, CURRENT_VERSION[t]): schema(model) for t, model in PAYLOADS.items()}
    out.update({path(t, v): schema(model) for (t, v), model in EARLIER.items()})
    return out


def render(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write() -> list[str]:
    """Write the missing snapshots; an existing one that differs is a payload changed in place,
    which this refuses (returned as problems)."""
    FOLDER.mkdir(exist_ok=True)
    problems = []
    for file, doc in expected().items():
        if not file.exists():
            file.write_bytes(render(doc))
        elif orjson.loads(file.read_bytes()) != doc:
            problems.append(
                f"{file.name}: the payload changed at the same dataversion; add a new version"
                " with an upcaster instead"
            )
    return problems


if __name__ == "__main__":
    found = write()
    sys.stderr.writelines(f"{line}\n" for line in found)
    sys.exit(1 if found else 0)
