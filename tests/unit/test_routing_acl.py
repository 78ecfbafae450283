"""The Kafka ACLs derived from the contract: each party its own assignment topic and its own
command inbox, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from router.acl import AclBinding, bindings, party_principal, render_kafka_acls, render_lines

from shared.contract import load_contract
from shared.topics import party_topic_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def acls() -> list[AclBinding]:
    return bindings(load_contract(ROOT / "examples" / "contract"), "baton.", "baton.")


def test_each_party_reads_its_own_topic_and_writes_only_its_own_inbox(
    acls: list[AclBinding],
) -> None:
    for party in ("hw", "sysops", "appint", "customer"):
        mine = {
            (a.resource, a.pattern, a.name, a.operation)
            for a in acls
            if a.principal == party_principal(party)
        }
        assert mine == {
            ("TOPIC", "LITERAL", f"baton.assignments.{party}", "READ"),
            ("TOPIC", "LITERAL", f"baton.assignments.{party}", "DESCRIBE"),
            ("GROUP", "PREFIXED", f"baton.{party}.", "READ"),
            ("TOPIC", "LITERAL", f"baton.commands.{party}", "WRITE"),
            ("TOPIC", "LITERAL", f"baton.commands.{party}", "DESCRIBE"),
        }


def test_only_intake_writes_the_shared_commands_topic(acls: list[AclBinding]) -> None:
    writers = {
        a.principal
        for a in acls
        if a.name == "baton.commands" and a.operation == "WRITE" and a.resource == "TOPIC"
    }
    assert writers == {"User:baton-intake"}


def test_vendors_get_no_credentials_and_nothing_is_prefixed_for_parties(
    acls: list[AclBinding],
) -> None:
    principals = {a.principal for a in acls}
    assert "User:msft" not in principals
    assert "User:onec" not in principals
    party_prefixed = [
        a
        for a in acls
        if not a.principal.startswith("User:baton-")
        and a.resource == "TOPIC"
        and a.pattern == "PREFIXED"
    ]
    assert party_prefixed == []


def test_only_the_router_writes_assignments(acls: list[AclBinding]) -> None:
    writers = {
        a.principal
        for a in acls
        if a.operation in ("WRITE", "CREATE") and a.name.startswith("baton.assignments")
    }
    assert writers == {"User:baton-router"}


def test_renderings_carry_every_binding(acls: list[AclBinding]) -> None:
    lines = render_lines(acls).splitlines()
    assert len(lines) == len(acls)
    assert "User:hw|TOPIC|LITERAL|baton.assignments.hw|READ" in lines
    script = render_kafka_acls(acls, "kafka:9093", "admin.properties")
    assert script.count("kafka-acls.sh ") == len(acls)
    assert (
        "--allow-principal User:hw --operation Read --resource-pattern-type literal"
        " --topic baton.assignments.hw" in script
    )


@pytest.mark.parametrize("party", ["", "a b", "../x", "ü", ".hidden"])
def test_a_party_id_that_cannot_name_a_topic_is_refused_naming_the_field(party: str) -> None:
    with pytest.raises(ValueError, match="party: "):
        party_topic_name("baton.", party)
