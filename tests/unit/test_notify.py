"""Who is told what over which channel (router/notify.py), and the links they carry
(shared/links.py): pure, on the example contract at 02:30 in Almaty."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from router import notify, outbox
from router.escalation import on_ack_overdue, on_sla
from router.routing import RouteState, on_action, open_route

from shared import links
from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.events import (
    AccessRequestV1,
    AccessStep,
    ActionKind,
    Envelope,
    make_event,
    stable_id,
)
from tests import factories
from tests.factories import accepted, opened_on

ROOT = Path(__file__).resolve().parents[2]
NIGHT = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)  # 02:30 Friday in Almaty
SECRET = "s3cret-for-links"
EMAIL = frozenset({"email"})
LINKS = notify.Links(lambda c: "https://baton.example/v1/links/" + links.sign(SECRET, c))


@cache
def steppe() -> Contract:
    return load_contract(ROOT / "examples" / "contract")


def _opened(object_id: str = "os-pg-01", incident: str = "inc-1") -> Envelope:
    return opened_on(
        steppe(),
        object_id,
        NIGHT,
        incident=incident,
        summary="PostgreSQL is down",
        event_id=stable_id("open", incident),
    )


def _all(
    state: RouteState, events: list[Envelope], senders: frozenset[str] = EMAIL
) -> list[notify.Notice]:
    return [
        n
        for e in events
        for n in notify.notices(e, state, ContractView.of(steppe()), senders=senders, links=LINKS)
    ]


def test_an_assignment_reaches_the_party_mailbox_and_the_coordinators_and_names_the_phones() -> (
    None
):
    state, events = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    sent = _all(state, events)
    to = {(n.recipient, n.address) for n in sent}
    # at 02:30 the night duty engineers have no e-mail: their mailboxes are mailed
    assert ("sysops/mailbox", "duty@nomadsysops.example") in to
    assert ("appint/mailbox", "duty@integra.example") in to
    assert {n.channel for n in sent} == {"email"}
    primary = next(n for n in sent if n.recipient == "sysops/mailbox" and "(primary)" in n.subject)
    assert "Acknowledge: I take it: https://baton.example/v1/links/" in primary.body
    assert "Service restored: https://" in primary.body
    assert "  checking: " in primary.body
    assert "Asia/Almaty" in primary.body
    assert "Respond by:" in primary.body
    # the coordinator is told by hand whom no sender reaches: the night engineer's phone
    coordinator = [n for n in sent if n.recipient == "appint/mailbox"]
    assert any("call +7 701 300 0202" in n.body for n in coordinator)
    assert any("message @nomad_duty" in n.body for n in coordinator)
    # nobody but the acting party gets links to act as it
    assert not any("links/" in n.body for n in sent if "information" in n.body)


def test_the_same_event_makes_the_same_notifications_and_repeats_add_none() -> None:
    state, events = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    first, again = _all(state, events), _all(state, events)
    assert [(n.id, n.body) for n in first] == [(n.id, n.body) for n in again]
    assert len({n.id for n in first}) == len(first)


def test_a_channel_with_a_sender_gets_its_own_row() -> None:
    state, events = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    sent = _all(state, events, frozenset({"email", "messenger"}))
    assert ("sysops/night", "messenger", "@nomad_duty") in {
        (n.recipient, n.channel, n.address) for n in sent
    }
    assert not any("message @nomad_duty" in n.body for n in sent)


def _restored(
    opened: Envelope, actor: str, command: str, event: str
) -> tuple[RouteState, Envelope]:
    """The route of ``opened`` once sysops' ``actor`` said at night that service is restored,
    and that action."""
    state, _ = open_route(opened, ContractView.of(steppe()), NIGHT)
    restored = accepted(
        "inc-1",
        ActionKind.RESTORED,
        NIGHT,
        party="sysops",
        actor=actor,
        command_id=stable_id(command),
        event_id=stable_id(event),
    )
    state, _ = on_action(state, restored, ContractView.of(steppe()), NIGHT)
    return state, restored


def test_restored_asks_the_customer_to_confirm_with_confirm_and_reject_links() -> None:
    state, restored = _restored(_opened(), "engineer", "c", "restored")
    sent = notify.notices(restored, state, ContractView.of(steppe()), senders=EMAIL, links=LINKS)
    customer = [n for n in sent if n.party == "customer"]
    assert [n.address for n in customer] == ["it@steppetrade.example"]
    body = customer[0].body
    tokens = [line.rsplit("/", 1)[1] for line in body.splitlines() if "/v1/links/" in line]
    claims = [links.verify([SECRET], t, NIGHT) for t in tokens]
    assert [(c.action, c.party) for c in claims] == [
        (ActionKind.CONFIRM, "customer"),
        (ActionKind.REJECT, "customer"),
    ]


def test_an_unacknowledged_assignment_gives_the_backups_a_link_to_take_it() -> None:
    state, _ = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    due = state.ack_due["sysops"]
    state, out = on_ack_overdue(state, "sysops", ContractView.of(steppe()), due)
    sent = _all(state, out)
    # nomad's backups (dba, lead) have phones only: the coordinator is told to call them
    coordinator = " ".join(n.body for n in sent if n.party == "appint")
    assert "call +7 701 300 0203" in coordinator
    assert "call +7 701 300 0204" in coordinator


def test_a_failed_notification_tells_the_coordinator_over_its_other_channels() -> None:
    state, events = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    sent = _all(state, events)
    row = next(n for n in sent if n.recipient == "sysops/mailbox")
    told = notify.failed(
        dataclasses.asdict(row),
        state,
        ContractView.of(steppe()),
        senders=EMAIL,
        now=NIGHT,
        attempts=8,
        error="connection refused",
    )
    assert [n.recipient for n in told] == ["appint/mailbox"]
    assert "after 8 tries" in told[0].body
    assert told[0].kind == "delivery_failed"


# --------------------------------------------------------------------------- links


def _claims(**over: object) -> links.Claims:
    base: dict[str, object] = {
        "i": "inc-1",
        "p": "sysops",
        "a": "acknowledge",
        "n": "abc",
        "e": int((NIGHT + timedelta(hours=1)).timestamp()),
        "t": "night",
    }
    return links.Claims.model_validate(base | over)


def test_a_signed_link_verifies_and_any_changed_character_is_refused() -> None:
    token = links.sign(SECRET, _claims())
    assert links.verify([SECRET], token, NIGHT).party == "sysops"
    for i in range(len(token)):
        if token[i] == ".":
            continue
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        with pytest.raises(links.LinkRefused) as refused:
            links.verify([SECRET], changed, NIGHT)
        assert refused.value.reason in ("forged", "malformed")


def test_an_expired_link_and_one_of_another_secret_are_refused() -> None:
    token = links.sign(SECRET, _claims())
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify([SECRET], token, NIGHT + timedelta(hours=1))
    with pytest.raises(links.LinkRefused) as refused:
        links.verify(["another"], token, NIGHT)
    assert refused.value.reason == "forged"
    assert links.verify(["another", SECRET], token, NIGHT).action == ActionKind.ACKNOWLEDGE


def test_a_link_cannot_carry_an_action_that_needs_a_typed_reason() -> None:
    token = links.sign(SECRET, _claims(a="reroute"))
    with pytest.raises(links.LinkRefused, match="cannot reroute"):
        links.verify([SECRET], token, NIGHT)


# --------------------------------------------------------------------------- lint


def test_lint_names_the_channel_kinds_without_a_sender() -> None:
    from shared.contract.lint import lint_parsed
    from shared.contract.load import parse_path

    parsed = parse_path(ROOT / "examples" / "contract")
    assert not [f for f in lint_parsed(parsed) if f.code == "BTN701"]  # settings unknown
    found = [f for f in lint_parsed(parsed, frozenset({"email"})) if f.code == "BTN701"]
    kinds = sorted(f.message.split(":")[0] for f in found)
    assert kinds == ["messenger", "phone", "ticket"]
    phone = next(f for f in found if f.message.startswith("phone"))
    assert "hw/night" in phone.message
    assert phone.line is not None


def test_the_person_on_duty_when_the_message_goes_is_told_not_the_one_at_the_opening() -> None:
    day = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # Friday 10:00 in Almaty: the desks are open
    state, events = open_route(
        _opened(), ContractView.of(steppe()), day
    )  # opened at 02:30, routed at 10:00
    sent = _all(state, events)
    assert ("sysops/desk", "desk@nomadsysops.example") in {(n.recipient, n.address) for n in sent}
    assert not any(n.recipient == "sysops/night" for n in sent)


def test_a_breach_reaches_the_level_contacts_and_lists_the_phones_for_the_coordinator() -> None:
    state, _ = open_route(_opened(), ContractView.of(steppe()), NIGHT)
    at = NIGHT + timedelta(hours=1)
    breach = factories.sla_breached("inc-1", at, event_id=stable_id("breach"))
    state, out = on_sla(state, breach, ContractView.of(steppe()), at)
    sent = _all(state, out)
    to = {(n.recipient, n.address) for n in sent}
    # level 3: the service managers have e-mail; the customer's IT duty manager a phone only
    assert ("sysops/manager", "t.bekov@nomadsysops.example") in to
    assert ("hw/manager", "d.omarova@qhs.example") in to
    coordinator = " ".join(n.body for n in sent if n.recipient == "appint/mailbox")
    assert "call +7 701 400 0001 — IT duty manager (customer)" in coordinator
    managers = [n for n in sent if n.recipient == "sysops/manager"]
    assert all("/v1/links/" not in n.body for n in managers)  # escalations inform, not act


def test_a_vendor_case_tells_the_party_that_opens_it() -> None:
    contract = steppe()
    at = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    state, _ = open_route(_opened("app-1c-acc"), ContractView.of(contract), at)
    found = accepted(
        "inc-1",
        ActionKind.DIAGNOSIS,
        at,
        party="appint",
        actor="engineer",
        command_id=stable_id("c-vendor"),
        event_id=stable_id("vendor"),
        layer=state.layer,
        fault_found=True,
    )
    state, out = on_action(state, found, ContractView.of(contract), at)
    sent = _all(state, out)
    case = [n for n in sent if "vendor case" in n.subject]
    assert {n.recipient for n in case} >= {"appint/mailbox"}
    assert any("Open a case with" in n.body for n in case)


# --------------------------------------------------------------------------- senders


def test_a_sender_url_is_the_template_with_the_address_quoted() -> None:
    template = "mailtos://user:pw@smtp.example.org?from=baton@example.org&to={address}"
    assert outbox.sender_url(template, "a b&c@x.example") == (
        "mailtos://user:pw@smtp.example.org?from=baton@example.org&to=a%20b%26c@x.example"
    )
    assert outbox.sender_url("tgram://bot/{address}", "+7 701") == "tgram://bot/+7%20701"


async def test_a_kind_without_sender_or_with_a_bad_template_says_so_without_the_url() -> None:
    sender = outbox.Sender({"email": "nonsense://secret-password@x/{address}"}, 1.0)
    assert sender.kinds == {"email"}
    assert await sender.send("sms", "+7", "s", "b") == "no sender for channel sms"
    bad = await sender.send("email", "a@x.example", "s", "b")
    assert bad is not None
    assert "not understood" in bad
    assert "secret-password" not in bad


def _access(status: str, tell: list[str], **over: object) -> Envelope:
    at = NIGHT
    request = AccessRequestV1.model_validate(
        {
            "request_id": "acc-1",
            "step": "request_access",
            "status": status,
            "at": at,
            "by": "sysops:dba",
            "command_id": stable_id("cmd"),
            "rule": "db-privileged",
            "object_id": "pg-acc",
            "mode": "remote",
            "requested_by": "sysops:dba",
            "requested_at": at,
            "purpose": "restore the database",
            "issued_by": "customer/security",
            "lead_time": timedelta(minutes=15),
            "due_at": at + timedelta(minutes=15),
            "after_hours": True,
            "needs_approval": True,
            "approver": "customer/it-duty",
            "tell": tell,
            **over,
        }
    )
    return make_event(
        request, source="intake", time=at, subject="inc-1", event_id=stable_id("acc", status)
    )


def test_an_access_request_tells_the_issuer_and_the_approver_needed_at_night() -> None:
    state, _ = open_route(_opened("pg-acc"), ContractView.of(steppe()), NIGHT)
    event = _access("requested", ["customer/security", "customer/it-duty"])
    sent = _all(state, [event], frozenset({"email", "phone"}))
    told = {n.recipient for n in sent}
    assert {"customer/security", "customer/it-duty"} <= told
    issuer = next(n for n in sent if n.recipient == "customer/security")
    assert "needs approval by customer/it-duty" in issuer.body
    assert "ready by" in issuer.body
    assert "acc-1" in issuer.subject
    # the coordinator is told too, for information
    assert any(n.party == "appint" and "information" in n.subject for n in sent)
    # the approver gets one link: approve, as the contact it was sent to; the issuer none yet
    approver = [n for n in sent if n.recipient == "customer/it-duty"]
    tokens = [
        ln.rsplit("/", 1)[1] for n in approver for ln in n.body.splitlines() if "/v1/links/" in ln
    ]
    claims = [links.verify([SECRET], t, NIGHT) for t in tokens]
    assert [(c.step, c.request, c.party, c.to) for c in claims] == [
        (AccessStep.APPROVE, "acc-1", "customer", "it-duty")
    ]
    assert "/v1/links/" not in issuer.body


def test_once_approved_the_issuer_gets_a_grant_link() -> None:
    state, _ = open_route(_opened("pg-acc"), ContractView.of(steppe()), NIGHT)
    event = _access(
        "approved", ["customer/security"], approved_at=NIGHT, approved_by="customer:it-duty"
    )
    sent = _all(state, [event], frozenset({"email", "phone"}))
    issuer = [n for n in sent if n.recipient == "customer/security"]
    tokens = [
        ln.rsplit("/", 1)[1] for n in issuer for ln in n.body.splitlines() if "/v1/links/" in ln
    ]
    claims = [links.verify([SECRET], t, NIGHT) for t in tokens]
    assert {(c.step, c.to) for c in claims} == {(AccessStep.GRANT, "security")}


def test_break_glass_tells_the_approver_and_security_at_once() -> None:
    state, _ = open_route(_opened("pg-acc"), ContractView.of(steppe()), NIGHT)
    event = _access(
        "emergency",
        ["customer/it-duty", "customer/security"],
        step="emergency_access",
        needs_approval=False,
        approver=None,
        reason="data loss in progress",
        emergency="DBA break-glass role",
    )
    sent = _all(state, [event], frozenset({"email", "phone"}))
    for ref in ("customer/it-duty", "customer/security"):
        body = next(n.body for n in sent if n.recipient == ref)
        assert "without prior approval: data loss in progress" in body
        assert "DBA break-glass role" in body


def test_restored_asks_the_rules_completion_contact_to_confirm() -> None:
    state, restored = _restored(_opened("pg-acc"), "dba", "c2", "restored-pg-acc")
    sent = notify.notices(
        restored, state, ContractView.of(steppe()), senders=frozenset({"phone"}), links=LINKS
    )
    duty = [n for n in sent if n.recipient == "customer/it-duty"]  # db-privileged's confirmer
    assert duty
    assert "you confirm completion of work on pg-acc (customer/it-duty)" in duty[0].body
    tokens = [ln.rsplit("/", 1)[1] for ln in duty[0].body.splitlines() if "/v1/links/" in ln]
    claims = [links.verify([SECRET], t, NIGHT) for t in tokens]
    assert {(c.action, c.party, c.to) for c in claims} == {
        (ActionKind.CONFIRM, "customer", "it-duty"),
        (ActionKind.REJECT, "customer", "it-duty"),
    }
