"""A demo month of incidents as the services would have published them, for the documents.

Deterministic: the same call gives the same events (ids and times), so the tests can state the
figures the reports must show. Twelve incidents in November 2026 across the example contract's
layers: one the seed's night (pg-acc down, a spare-part pause, the recovery target breached),
two more breaches (a late response, a late recovery), pauses for no access, and one alert
from outside the perimeter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.events import (
    EVENT_TYPE,
    ActionKind,
    AssignmentIssuedV3,
    Category,
    ClockKind,
    Envelope,
    IncidentActionAcceptedV3,
    IncidentClosedV1,
    IncidentOpenedV2,
    Layer,
    Model,
    Role,
    SlaBreachedV1,
    SlaClockPausedV1,
    SlaClockResumedV1,
    SlaClockStartedV1,
    SlaClockStoppedV1,
    make_event,
)

NAMESPACE = uuid.UUID("6f1c1d52-8f0e-4d43-9f55-4b1f3f1b0b11")
PRIMARY = {"hardware": "hw", "network": "hw", "os": "sysops", "dbms": "sysops"}


@dataclass(frozen=True)
class Case:
    id: str
    object_id: str | None
    layer: str | None
    priority: str
    at: datetime
    ack_after: timedelta
    restore_after: timedelta
    response: timedelta
    recovery: timedelta
    summary: str
    pause: tuple[str, timedelta] | None = None  # reason, business time paused
    cause: str = "Disk controller firmware fault"
    fingerprint: str = ""


def _cases() -> list[Case]:
    day = datetime(2026, 11, 2, tzinfo=UTC)
    m, h = timedelta(minutes=1), timedelta(hours=1)
    return [
        Case(
            "INC-NIGHT-01",
            "pg-acc",
            "dbms",
            "P1",
            day + 19 * h,
            12 * m,
            9 * h,
            30 * m,
            6 * h,
            "Accounting database unavailable at night",
            ("spare-part", 2 * h),
            "RAID controller of srv-pg-01 failed; the database was cut off from its storage",
        ),
        Case(
            "INC-02",
            "app-wms",
            "application",
            "P1",
            day + 2 * 24 * h + 4 * h,
            10 * m,
            3 * h,
            15 * m,
            4 * h,
            "WMS not answering",
        ),
        Case(
            "INC-03",
            "int-bank-exchange",
            "integration",
            "P1",
            day + 3 * 24 * h + 3 * h,
            40 * m,
            2 * h,
            15 * m,
            4 * h,
            "Bank statements not imported",
            cause="The bank's SFTP host key changed; the exchange did not run",
            fingerprint="checkin:int-bank-exchange/run",  # the watchdog saw the run missed
        ),
        Case(
            "INC-04",
            "srv-esx-01",
            "hardware",
            "P1",
            day + 6 * 24 * h + 5 * h,
            8 * m,
            3 * h,
            15 * m,
            4 * h,
            "Virtualisation host down",
            ("no-access", 1 * h),
        ),
        Case(
            "INC-05",
            "pg-acc",
            "dbms",
            "P2",
            day + 8 * 24 * h + 6 * h,
            20 * m,
            5 * h,
            30 * m,
            8 * h,
            "Accounting database slow",
        ),
        Case(
            "INC-06",
            "app-wms",
            "application",
            "P1",
            day + 10 * 24 * h + 5 * h,
            14 * m,
            5 * h,
            15 * m,
            4 * h,
            "WMS picking screen errors",
        ),
        Case(
            "INC-07",
            "net-vpn-hub",
            "network",
            "P1",
            day + 13 * 24 * h + 20 * h,
            25 * m,
            5 * h,
            30 * m,
            6 * h,
            "VPN hub down, branches cut off",
            ("no-access", 3 * h),
        ),
        Case(
            "INC-08",
            "dc-01",
            "os",
            "P1",
            day + 15 * 24 * h + 4 * h,
            5 * m,
            1 * h,
            15 * m,
            4 * h,
            "Domain controller not answering",
        ),
        Case(
            "INC-09",
            "app-wms",
            "application",
            "P2",
            day + 17 * 24 * h + 7 * h,
            12 * m,
            3 * h,
            30 * m,
            8 * h,
            "WMS label printing fails",
        ),
        Case(
            "INC-10",
            "pg-acc",
            "dbms",
            "P1",
            day + 20 * 24 * h + 5 * h,
            9 * m,
            2 * h,
            15 * m,
            4 * h,
            "Accounting database restarts",
        ),
        Case(
            "INC-11",
            "int-mq-acc-wms",
            "integration",
            "P1",
            day + 22 * 24 * h + 6 * h,
            11 * m,
            1 * h,
            15 * m,
            4 * h,
            "Queue between accounting and WMS stuck",
        ),
        Case(
            "INC-OUT-12",
            None,
            None,
            "P3",
            day + 24 * 24 * h + 6 * h,
            30 * m,
            4 * h,
            2 * h,
            16 * h,
            "Printer-9 unreachable (not in the contract)",
        ),
    ]


def _party(case: Case) -> str:
    return PRIMARY.get(case.layer or "", "appint")


class _Log:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add(self, data: Model, at: datetime, subject: str) -> None:
        kind = EVENT_TYPE[type(data)]
        event_id = uuid.uuid5(NAMESPACE, f"{subject}/{kind.value}/{len(self.events)}")
        self.events.append(
            make_event(data, source="demo-month", time=at, subject=subject, event_id=event_id)
        )


def demo_month() -> list[Envelope]:
    log = _Log()
    for case in _cases():
        _incident(log, case)
    return log.events


def _incident(log: _Log, case: Case) -> None:
    i, at, party = case.id, case.at, _party(case)
    layer = Layer(case.layer) if case.layer else None
    category = Category.OUTAGE
    log.add(
        IncidentOpenedV2(
            object_id=case.object_id,
            layer=layer,
            category=category,
            priority=case.priority,
            summary=case.summary,
            opened_at=at,
            first_alert_at=at,
            fingerprints=[case.fingerprint or f"fp-{i}"],
            outside_perimeter=case.object_id is None,
        ),
        at,
        i,
    )
    for role, who in ((Role.PRIMARY, party), (Role.COORDINATOR, "appint")):
        log.add(
            AssignmentIssuedV3(
                party=who,
                role=role,
                layer=layer,
                object_id=case.object_id,
                priority=case.priority,
                category=category,
                contact="desk",
                summary=case.summary,
            ),
            at,
            i,
        )
    calendar = "24x7"
    for clock, target in ((ClockKind.RESPONSE, case.response), (ClockKind.RECOVERY, case.recovery)):
        log.add(
            SlaClockStartedV1(
                clock=clock, started_at=at, target=target, deadline=at + target, calendar=calendar
            ),
            at,
            i,
        )

    def action(kind: ActionKind, who: str, actor: str, when: datetime, **extra: object) -> None:
        log.add(
            IncidentActionAcceptedV3(
                action=kind,
                party=who,
                actor=actor,
                at=when,
                command_id=uuid.uuid5(NAMESPACE, f"{i}/{kind}/{when}"),
                **extra,
            ),
            when,
            i,
        )

    ack = at + case.ack_after
    action(ActionKind.ACKNOWLEDGE, party, "Duty engineer", ack)
    log.add(
        SlaClockStoppedV1(
            clock=ClockKind.RESPONSE,
            stopped_at=ack,
            met=ack <= at + case.response,
            margin=at + case.response - ack,
        ),
        ack,
        i,
    )
    if ack > at + case.response:
        log.add(
            SlaBreachedV1(
                clock=ClockKind.RESPONSE,
                deadline=at + case.response,
                detected_at=at + case.response,
            ),
            at + case.response,
            i,
        )
    paused = timedelta(0)
    if case.pause is not None:
        reason, paused = case.pause
        start = ack + timedelta(minutes=30)
        action(
            ActionKind.PAUSE,
            party,
            "Duty engineer",
            start,
            clock=ClockKind.RECOVERY,
            pause_reason=reason,
            evidence=["photo of the failed part"],
        )
        log.add(
            SlaClockPausedV1(
                clock=ClockKind.RECOVERY,
                paused_at=start,
                pause_reason=reason,
                party=party,
                actor="Duty engineer",
                evidence=["photo of the failed part"],
                remaining=case.recovery - (start - at),
            ),
            start,
            i,
        )
        log.add(
            SlaClockResumedV1(
                clock=ClockKind.RECOVERY,
                resumed_at=start + paused,
                cause="resume",
                pause_reason=reason,
                paused=paused,
                deadline=at + case.recovery + paused,
                remaining=case.recovery - (start - at),
            ),
            start + paused,
            i,
        )
    restored = at + case.restore_after
    deadline = at + case.recovery + paused
    if restored > deadline:
        log.add(
            SlaBreachedV1(clock=ClockKind.RECOVERY, deadline=deadline, detected_at=deadline),
            deadline,
            i,
        )
    action(ActionKind.RESTORED, party, "Duty engineer", restored)
    log.add(
        SlaClockStoppedV1(
            clock=ClockKind.RECOVERY,
            stopped_at=restored,
            met=restored <= deadline,
            margin=deadline - restored,
        ),
        restored,
        i,
    )
    closed = restored + timedelta(minutes=45)
    action(ActionKind.CONFIRM, "customer", "Aigerim Duty (customer IT)", closed)
    log.add(
        IncidentClosedV1(
            closed_at=closed,
            confirmed_by="customer",
            cause=case.cause,
            actions_taken=[
                "Diagnosed the fault",
                "Replaced the failed part",
                "Checked the service with the customer",
            ],
            recurrence_risk="Low: the part was replaced and firmware updated",
            participants=[party, "appint", "customer"],
        ),
        closed,
        i,
    )
