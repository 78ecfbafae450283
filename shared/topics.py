"""Topic names and partition counts — the one list every service, the stack and compose use.

Names carry a configurable prefix (``BATON_TOPIC_PREFIX``, default ``baton.``) so that tests can
run on their own topics beside a live stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    """Logical topic names; the wire name is ``prefix + value``."""

    ALERTS_RAW = "alerts.raw"
    ALERTS = "alerts"
    COMMANDS = "commands"
    INCIDENTS = "incidents"
    ASSIGNMENTS = "assignments"
    SLA = "sla"
    DEADLETTER = "deadletter"
    CONTRACT = "contract"
    CHECKINS = "checkins"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    topic: Topic
    partitions: int
    key: str
    writers: str
    readers: str
    compacted: bool = False


TOPIC_SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(Topic.ALERTS_RAW, 3, "source fingerprint", "monitoring producers", "intake"),
    TopicSpec(Topic.ALERTS, 3, "object id (or fingerprint)", "intake", "intake"),
    TopicSpec(Topic.COMMANDS, 3, "incident id", "contractor systems, intake (HTTP)", "intake"),
    TopicSpec(Topic.INCIDENTS, 3, "incident id", "intake", "router, sla-clock, reporting"),
    TopicSpec(Topic.ASSIGNMENTS, 3, "incident id", "router", "contractor systems, reporting"),
    TopicSpec(Topic.SLA, 3, "incident id", "sla-clock", "router, reporting"),
    TopicSpec(Topic.DEADLETTER, 3, "source", "every service", "operators, reporting"),
    TopicSpec(Topic.CHECKINS, 3, "check-in key", "scheduled runs, sla-clock (HTTP)", "sla-clock"),
    TopicSpec(Topic.CONTRACT, 1, "contract id", "baton contract publish", "every service", True),
)


def topic_name(prefix: str, topic: Topic) -> str:
    return f"{prefix}{topic.value}"


# Per-party assignment topics (issue 5): ``<prefix>assignments.<party_id>``. The set comes from
# the contract, so the router creates them at start (and when a contract adds a party) rather
# than TOPIC_SPECS; Kafka ACLs on this prefix give each contractor only its own topic.
PARTY_TOPIC_PARTITIONS = 3
_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def party_topic_name(prefix: str, party_id: str) -> str:
    """The wire name of ``party_id``'s own assignment topic; ``ValueError`` names the field."""
    if not party_id or not set(party_id) <= _TOPIC_CHARS or party_id.strip(".") != party_id:
        raise ValueError(
            f"party: {party_id!r} cannot name a Kafka topic (letters, digits, '.', '_', '-')"
        )
    name = f"{prefix}{Topic.ASSIGNMENTS.value}.{party_id}"
    if len(name) > 249:
        raise ValueError(f"party: topic name for {party_id!r} is longer than 249 characters")
    return name
