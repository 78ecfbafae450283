"""Kafka ACLs that isolate the parties: derived from the contract and the topic prefix.

Each party that connects (every party but vendors) authenticates as ``User:<party id>`` and may
read only its own assignment topic (``<prefix>assignments.<party>``) with consumer groups named
``<group prefix><party>.*``, and write only its own command inbox (``<prefix>commands.<party>``):
intake takes the acting party from the inbox's name, so a party cannot act as another through
Kafka. The shared commands topic is intake's own (its HTTP path, after the party's token).
Baton's services get what their topics table says they read and write. Everything else is
denied: the brokers run KRaft's ``StandardAuthorizer`` with
``allow.everyone.if.no.acl.found=false``.

Pure: ``bindings(contract, prefix, group_prefix)``; ``render_kafka_acls`` writes them as
``kafka-acls.sh`` command lines and ``render_lines`` as the line format ``acl_apply.java`` reads.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal

from shared.contract import Contract
from shared.topics import Topic, inbox_name, party_topic_name, topic_name

ResourceType = Literal["TOPIC", "GROUP", "CLUSTER"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS", "IDEMPOTENT_WRITE"]


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    principal: str
    resource: ResourceType
    pattern: PatternType
    name: str
    operation: Operation

    def line(self) -> str:
        return "|".join((self.principal, self.resource, self.pattern, self.name, self.operation))


# service -> (topics it reads, topics it writes); groups are "<group prefix><service>*"
SERVICES: dict[str, tuple[tuple[Topic, ...], tuple[Topic, ...]]] = {
    "intake": (
        (Topic.ALERTS_RAW, Topic.ALERTS, Topic.COMMANDS, Topic.CONTRACT),
        (
            Topic.ALERTS,
            Topic.COMMANDS,
            Topic.INCIDENTS,
            Topic.DEADLETTER,
            Topic.CHANGES,
            Topic.PROBLEMS,
        ),
    ),
    "router": (
        (Topic.INCIDENTS, Topic.SLA, Topic.CONTRACT, Topic.PROBLEMS),
        (Topic.ASSIGNMENTS, Topic.DEADLETTER),
    ),
    "sla-clock": (
        (Topic.INCIDENTS, Topic.CHECKINS, Topic.CONTRACT),
        (Topic.SLA, Topic.DEADLETTER, Topic.CHECKINS, Topic.ALERTS_RAW),
    ),
    "reporting": (
        (Topic.INCIDENTS, Topic.ASSIGNMENTS, Topic.SLA, Topic.CONTRACT, Topic.CHANGES),
        (Topic.DEADLETTER,),
    ),
}


def party_principal(party_id: str) -> str:
    return f"User:{party_id}"


def service_principal(service: str) -> str:
    return f"User:baton-{service}"


def bindings(contract: Contract, prefix: str, group_prefix: str) -> list[AclBinding]:
    """Every ACL a deployment of ``contract`` needs, sorted (the same input, the same list)."""
    out: set[AclBinding] = set()
    for party_id, party in contract.parties.items():
        if party.kind == "vendor":
            continue  # vendors do not connect: the party that handles their cases does
        who = party_principal(party_id)
        own = party_topic_name(prefix, party_id)
        out |= {
            AclBinding(who, "TOPIC", "LITERAL", own, "READ"),
            AclBinding(who, "TOPIC", "LITERAL", own, "DESCRIBE"),
            AclBinding(who, "GROUP", "PREFIXED", f"{group_prefix}{party_id}.", "READ"),
            AclBinding(who, "TOPIC", "LITERAL", inbox_name(prefix, party_id), "WRITE"),
            AclBinding(who, "TOPIC", "LITERAL", inbox_name(prefix, party_id), "DESCRIBE"),
        }
    for service, (reads, writes) in SERVICES.items():
        who = service_principal(service)
        out.add(AclBinding(who, "GROUP", "PREFIXED", f"{group_prefix}{service}", "READ"))
        for topic in reads:
            out.add(AclBinding(who, "TOPIC", "LITERAL", topic_name(prefix, topic), "READ"))
            out.add(AclBinding(who, "TOPIC", "LITERAL", topic_name(prefix, topic), "DESCRIBE"))
        for topic in writes:
            out.add(AclBinding(who, "TOPIC", "LITERAL", topic_name(prefix, topic), "WRITE"))
            out.add(AclBinding(who, "TOPIC", "LITERAL", topic_name(prefix, topic), "DESCRIBE"))
    # intake and the router create topics: they read the cluster's default.replication.factor
    # first (shared/topic_admin.py), a broker config
    for creator in ("intake", "router"):
        out.add(
            AclBinding(
                service_principal(creator),
                "CLUSTER",
                "LITERAL",
                "kafka-cluster",
                "DESCRIBE_CONFIGS",
            )
        )
    # the router creates and writes the per-party topics (their set follows the contract)
    router = service_principal("router")
    party_topics = f"{topic_name(prefix, Topic.ASSIGNMENTS)}."
    for operation in ("CREATE", "WRITE", "DESCRIBE"):
        out.add(AclBinding(router, "TOPIC", "PREFIXED", party_topics, operation))
    # intake creates and reads every party's inbox (their set follows the contract)
    intake = service_principal("intake")
    inboxes = f"{topic_name(prefix, Topic.COMMANDS)}."
    inbox_ops: tuple[Operation, ...] = ("CREATE", "READ", "DESCRIBE")
    out |= {AclBinding(intake, "TOPIC", "PREFIXED", inboxes, op) for op in inbox_ops}
    return sorted(out)


def render_lines(acls: list[AclBinding]) -> str:
    return "".join(f"{acl.line()}\n" for acl in acls)


_OPERATION_ARG = {
    "READ": "Read",
    "WRITE": "Write",
    "CREATE": "Create",
    "DESCRIBE": "Describe",
    "DESCRIBE_CONFIGS": "DescribeConfigs",
    "IDEMPOTENT_WRITE": "IdempotentWrite",
}


def render_kafka_acls(acls: list[AclBinding], bootstrap: str, command_config: str) -> str:
    """The same ACLs as ``kafka-acls.sh`` invocations (Kafka's own distribution)."""
    lines = [
        "#!/bin/sh",
        "# Generated by deploy/kafka/acl.py from the contract; re-run it.",
        "set -e",
    ]
    for acl in acls:
        resource = {"TOPIC": "--topic", "GROUP": "--group", "CLUSTER": "--cluster"}[acl.resource]
        argv = [
            "kafka-acls.sh",
            "--bootstrap-server",
            bootstrap,
            "--command-config",
            command_config,
            "--add",
            "--allow-principal",
            acl.principal,
            "--operation",
            _OPERATION_ARG[acl.operation],
            "--resource-pattern-type",
            acl.pattern.lower(),
        ]
        argv += [resource] if acl.resource == "CLUSTER" else [resource, acl.name]
        lines.append(shlex.join(argv))
    return "\n".join(lines) + "\n"
