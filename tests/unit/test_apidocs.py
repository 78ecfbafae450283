"""The published interface documents are generated from the code and kept current."""

from __future__ import annotations

import pytest

from baton.apidocs import rendered
from shared.asyncapi import build, topic_of
from shared.events import EventType
from shared.topics import TOPIC_SPECS


def test_every_event_type_lives_on_a_declared_topic() -> None:
    declared = {spec.topic for spec in TOPIC_SPECS}
    for event_type in EventType:
        assert topic_of(event_type) in declared


def test_asyncapi_names_every_event_with_its_schema() -> None:
    doc = build(prefix="baton.")
    assert doc["asyncapi"] == "3.0.0"
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == {e.value for e in EventType}
    opened = doc["components"]["messages"]["incident_opened"]["payload"]
    assert opened["properties"]["type"] == {"const": "baton.incident.opened"}
    assert "priority" in opened["properties"]["data"]["properties"]
    assert doc["channels"]["incidents"]["address"] == "baton.incidents"


@pytest.mark.parametrize("path_text", list(rendered().items()), ids=lambda p: p[0].name)
def test_committed_documents_are_current(path_text: tuple[object, str]) -> None:
    path, text = path_text
    assert path.exists(), f"{path} is missing: run `baton docs`"  # type: ignore[attr-defined]
    assert path.read_text() == text, f"{path} is stale: run `baton docs`"  # type: ignore[attr-defined]
