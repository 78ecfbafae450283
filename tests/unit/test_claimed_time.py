"""A party's inbox chooses its command's ``time``: intake keeps it only as a claim (ADR 34).

The action happened when intake accepted it. An acknowledge written 29 minutes after the
response deadline but dated before it stays a breach, and a pause dated an hour back moves no
deadline: the clock folds intake's instant, never the writer's."""

from __future__ import annotations

from datetime import timedelta

from intake.actions import apply_action
from intake.incidents import IncidentState
from sla_clock.timeline import fold

from shared.contract.view import ContractView
from shared.events import (
    AccessRequestV1,
    ActionKind,
    ClockKind,
    Envelope,
    IncidentActionAcceptedV3,
    IncidentStatus,
    Layer,
    PartyActionV2,
    make_event,
)
from tests import factories
from tests.unit.test_sla_decide import OPENED, opened, run
from tests.unit.test_sla_timeline import RULES

M = timedelta(minutes=1)
CONTRACT = RULES.contract
VIEW = ContractView.of(CONTRACT)


def incident() -> IncidentState:
    return factories.open_incident("pg-main", Layer.DBMS, OPENED, incident="inc-7", fingerprint="f")


def access_request() -> AccessRequestV1:
    return AccessRequestV1.model_validate(
        {
            "request_id": "REQ-1",
            "step": "request_access",
            "status": "requested",
            "at": OPENED,
            "by": "osdb:eng",
            "command_id": "00000000-0000-0000-0000-000000000001",
            "rule": "remote",
            "object_id": "pg-main",
            "mode": "remote",
            "requested_by": "osdb:eng",
            "requested_at": OPENED,
            "issued_by": "customer/it",
            "lead_time": "PT15M",
            "due_at": OPENED + 15 * M,
            "after_hours": False,
            "needs_approval": False,
        }
    )


def inbox_command(action: PartyActionV2, claimed: object) -> Envelope:
    return make_event(action, source="contractor:osdb", time=claimed, subject="inc-7")  # type: ignore[arg-type]


def test_a_backdated_acknowledge_cannot_turn_a_breach_into_met() -> None:
    now = OPENED + 44 * M  # the P1 response target is 15 minutes: breached 29 minutes ago
    claimed = OPENED + 5 * M
    ack = inbox_command(
        PartyActionV2(action=ActionKind.ACKNOWLEDGE, party="osdb", actor="eng"), claimed
    )
    _, (accepted,) = apply_action(ack, incident(), VIEW, now)
    data = accepted.data_as(IncidentActionAcceptedV3)
    assert (data.at, data.claimed_at) == (now, claimed)
    record, _ = run(opened(), accepted)
    assert record is not None
    response = fold(record, RULES)[ClockKind.RESPONSE]
    assert response.stopped_at == now
    assert not response.met
    assert response.margin == -29 * M


def test_a_backdated_pause_moves_no_deadline() -> None:
    now = OPENED + 2 * timedelta(hours=1)
    pause = PartyActionV2(
        action=ActionKind.PAUSE,
        party="osdb",
        actor="eng",
        pause_reason="no-access",
        evidence=["request REQ-1 at 10:05"],
    )
    # a no-access pause names an access request of the incident (ADR 50)
    acknowledged = incident().model_copy(
        update={"status": IncidentStatus.ACKNOWLEDGED, "access": {"REQ-1": access_request()}}
    )
    _, (accepted,) = apply_action(inbox_command(pause, OPENED + 3 * M), acknowledged, VIEW, now)
    record, _ = run(opened(), accepted)
    assert record is not None
    recovery = fold(record, RULES)[ClockKind.RECOVERY]
    (held,) = recovery.pauses
    assert held.start == now
    assert recovery.elapsed == 2 * timedelta(hours=1)


def test_intakes_own_instant_is_not_a_claim() -> None:
    http = make_event(
        PartyActionV2(action=ActionKind.ACKNOWLEDGE, party="osdb", actor="eng"),
        source="http:osdb",
        time=OPENED + 5 * M,
        subject="inc-7",
    )
    _, (accepted,) = apply_action(http, incident(), VIEW, OPENED + 6 * M, OPENED + 5 * M)
    data = accepted.data_as(IncidentActionAcceptedV3)
    assert (data.at, data.claimed_at) == (OPENED + 5 * M, None)
