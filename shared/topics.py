"""Topic names and partition counts — the one list every service, the stack and compose use.

Names carry a configurable prefix (``BATON_TOPIC_PREFIX``, default ``baton.``) so that tests can
run on their own topics beside a live stack.
"""

from __future__ import annotations

import re
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
    CHANGES = "changes"
    PROBLEMS = "problems"


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
    TopicSpec(Topic.CHANGES, 3, "object id", "intake, baton contract publish", "reporting"),
    TopicSpec(Topic.PROBLEMS, 3, "problem id", "intake (HTTP close requests)", "router"),
    TopicSpec(Topic.CONTRACT, 1, "contract id", "baton contract publish", "every service", True),
)


def topic_name(prefix: str, topic: Topic) -> str:
    return f"{prefix}{topic.value}"


# Per-party topics, ``<prefix><base>.<party_id>``: each party's own assignment topic (written by
# the router, read only by that party) and its own command inbox (written only by that party,
# read by intake, which takes the acting party from the inbox's name, never from the command).
# The set comes from the contract, so the services create them at start and when a contract adds
# a party, rather than TOPIC_SPECS; Kafka ACLs on these names isolate the parties.
PARTY_TOPIC_PARTITIONS = 3
_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def party_topic_name(prefix: str, party_id: str, base: Topic = Topic.ASSIGNMENTS) -> str:
    """The wire name of ``party_id``'s own ``base`` topic; ``ValueError`` names the field."""
    if not party_id or not set(party_id) <= _TOPIC_CHARS or party_id.strip(".") != party_id:
        raise ValueError(
            f"party: {party_id!r} cannot name a Kafka topic (letters, digits, '.', '_', '-')"
        )
    name = f"{prefix}{base.value}.{party_id}"
    if len(name) > 249:
        raise ValueError(f"party: topic name for {party_id!r} is longer than 249 characters")
    return name


def inbox_name(prefix: str, party_id: str) -> str:
    """``party_id``'s command inbox: the only commands topic that party may write."""
    return party_topic_name(prefix, party_id, Topic.COMMANDS)


def inbox_party(prefix: str, topic: str) -> str | None:
    """The party whose inbox ``topic`` is; None for the shared commands topic (intake's own
    HTTP path writes it after checking the party's token) or any other topic."""
    head = f"{prefix}{Topic.COMMANDS.value}."
    return topic.removeprefix(head) or None if topic.startswith(head) else None


def commands_pattern(prefix: str) -> str:
    """A regular expression for the shared commands topic and every party inbox."""
    return f"^{re.escape(topic_name(prefix, Topic.COMMANDS))}(\\.[A-Za-z0-9_-][A-Za-z0-9._-]*)?$"
