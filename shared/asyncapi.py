"""AsyncAPI 3.0 for Baton's topics, generated from the shared schemas (never written by hand).

Which events travel on which topic follows from the event type's name: ``baton.<family>.<name>``
lives on the family's topic (``incident`` → ``incidents``, ``sla`` → ``sla``, ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from shared.events import PAYLOADS, Envelope, EventType
from shared.topics import TOPIC_SPECS, Topic, TopicSpec

FAMILY_TOPIC = {
    "alert": Topic.ALERTS,
    "command": Topic.COMMANDS,
    "incident": Topic.INCIDENTS,
    "assignment": Topic.ASSIGNMENTS,
    "sla": Topic.SLA,
    "contract": Topic.CONTRACT,
    "deadletter": Topic.DEADLETTER,
    "checkin": Topic.CHECKINS,
    "change": Topic.CHANGES,
    "problem": Topic.PROBLEMS,
}


def topic_of(event_type: EventType) -> Topic:
    family = event_type.value.split(".")[1]
    return FAMILY_TOPIC[family]


def _message_name(event_type: EventType) -> str:
    return event_type.value.removeprefix("baton.").replace(".", "_")


def _payload_schema(event_type: EventType) -> dict[str, Any]:
    envelope = Envelope.model_json_schema(mode="serialization")
    data = TypeAdapter(PAYLOADS[event_type]).json_schema(mode="serialization")
    defs = {**envelope.pop("$defs", {}), **data.pop("$defs", {})}
    props = envelope["properties"]
    props["type"] = {"const": event_type.value}
    props["data"] = data
    envelope["$defs"] = defs
    return envelope


def build(prefix: str = "baton.") -> dict[str, Any]:
    specs: dict[Topic, TopicSpec] = {s.topic: s for s in TOPIC_SPECS}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in EventType:
        topic = topic_of(event_type)
        name = _message_name(event_type)
        messages[name] = {
            "name": event_type.value,
            "contentType": "application/cloudevents+json",
            "payload": _payload_schema(event_type),
            "headers": {
                "type": "object",
                "properties": {
                    "ce_type": {"const": event_type.value},
                    "ce_id": {"type": "string"},
                    "traceparent": {"type": "string", "description": "W3C trace context"},
                },
            },
        }
        channel = channels.setdefault(
            topic.value,
            {
                "address": f"{prefix}{topic.value}",
                "description": (
                    f"key: {specs[topic].key}; partitions: {specs[topic].partitions}; "
                    f"written by {specs[topic].writers}; read by {specs[topic].readers}"
                    + ("; compacted" if specs[topic].compacted else "")
                ),
                "messages": {},
            },
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    channels["assignments_party"] = {
        "address": f"{prefix}assignments.{{party}}",
        "description": "One topic per party of the contract, created by the router: the events "
        "that concern that party (and the coordinator's copy). Kafka ACLs let a party's "
        "credentials read only its own (deploy/kafka/acl.md).",
        "parameters": {"party": {"description": "a party id of the contract"}},
        "messages": {k: dict(v) for k, v in channels[Topic.ASSIGNMENTS.value]["messages"].items()},
    }
    channels["commands_party"] = {
        "address": f"{prefix}commands.{{party}}",
        "description": "One inbox per party of the contract, created by intake: the party's "
        "systems report on incidents here. Intake acts as the inbox's party whatever a "
        "command's `party` field says (a mismatch is refused and dead-lettered); Kafka ACLs "
        "let a party's credentials write only its own inbox (deploy/kafka/acl.md).",
        "parameters": {"party": {"description": "a party id of the contract"}},
        "messages": {k: dict(v) for k, v in channels[Topic.COMMANDS.value]["messages"].items()},
    }
    operations = {
        f"receive_{topic}": {"action": "receive", "channel": {"$ref": f"#/channels/{topic}"}}
        for topic in channels
        if topic != "commands_party"
    }
    operations["send_commands"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/commands_party"},
        "description": "Contractor systems and the customer report on incidents here, each in "
        "its own inbox.",
    }
    operations["send_checkins"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{Topic.CHECKINS.value}"},
        "description": "Scheduled exchanges, jobs and backups report their runs here.",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Baton topics",
            "version": "1",
            "description": "Events between Baton's services and the contractor systems. Every "
            "message body is a CloudEvents-shaped envelope (structured mode); readers upgrade "
            "older `dataversion`s step by step.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
