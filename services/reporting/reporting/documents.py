"""Reporting's documents: the closure report of one incident and the monthly service report.

The facts come from ``store`` (``closure_facts``, ``monthly_facts``: the read model and the
audit trail); the builders (``closure_document``, ``monthly_document``) are pure functions of
those facts and the contract, so the same figures feed HTML, PDF and JSON (``shared.documents``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from reporting import access_view, updates
from reporting.store import ClosureFacts, MonthlyFacts
from shared.contract.model import Contract
from shared.contract.view import ContractView
from shared.documents import Chart, Document, Fact, Section, Series, Signature, Table
from shared.documents.words import duration_words, seconds_words
from shared.events import EventType

_SPAN = TypeAdapter(timedelta)
# --------------------------------------------------------------------------- pauses


@dataclass(frozen=True, slots=True)
class Pause:
    incident_id: str
    clock: str
    reason: str
    party: str
    actor: str
    start: datetime
    end: datetime | None
    business: timedelta | None
    """Business time the pause excluded (from the clock's resume); None while paused."""
    evidence: tuple[str, ...] = ()
    answer: dict[str, Any] | None = None
    """The customer's confirmation or dispute (``baton.incident.pause_answered``), if any."""

    def confirmation(self, contract: Contract) -> str:
        """ "confirmed", "disputed", "unconfirmed" — or "" when nobody confirms its reason."""
        reason = next((r for r in contract.pause_reasons if r.id == self.reason), None)
        if self.answer is not None:
            return "confirmed" if self.answer.get("verdict") == "confirm" else "disputed"
        return "unconfirmed" if reason is not None and reason.confirmed_by else ""


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def pauses(events: Iterable[dict[str, Any]]) -> list[Pause]:
    """Each pause of each clock, paired with the resume that ended it (events in time order)."""
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[Pause] = []
    events = list(events)
    answers = {
        (e["incident_id"], e["data"].get("clock"), _when(e["data"]["paused_at"])): e["data"]
        for e in events
        if e["type"] == EventType.PAUSE_ANSWERED.value
    }
    for event in events:
        data, incident = event["data"], event["incident_id"]
        key = (incident, data.get("clock", ""))
        if event["type"] == EventType.SLA_CLOCK_PAUSED.value:
            open_[key] = data
        elif (
            event["type"] == EventType.SLA_CLOCK_RESUMED.value
            and data.get("cause") == "resume"
            and key in open_
        ):
            began = open_.pop(key)
            out.append(_pause(incident, began, _when(data["resumed_at"]), data.get("paused")))
    out.extend(_pause(incident, began, None, None) for (incident, _), began in open_.items())
    return [replace(p, answer=answers.get((p.incident_id, p.clock, p.start))) for p in out]


def _pause(incident: str, began: dict[str, Any], end: datetime | None, paused: Any) -> Pause:
    return Pause(
        incident_id=incident,
        clock=began["clock"],
        reason=began["pause_reason"],
        party=began["party"],
        actor=began.get("actor", ""),
        start=_when(began["paused_at"]),
        end=end,
        business=_SPAN.validate_python(paused) if paused is not None else None,
        evidence=tuple(began.get("evidence", ())),
    )


# --------------------------------------------------------------------------- words


def _answer_words(p: Pause, contract: Contract) -> str:
    """The customer's answer to a pause, as the closure report says it."""
    state = p.confirmation(contract)
    if p.answer is None:
        return state or "—"
    who = f"{p.answer.get('actor')} ({_party(contract, p.answer.get('party'))})"
    note = f": {p.answer['note']}" if p.answer.get("note") else ""
    return f"{state} by {who}{note}"


def _party(contract: Contract, party_id: str | None) -> str:
    if not party_id:
        return "—"
    party = contract.parties.get(party_id)
    return party.name if party else party_id


def _reason(contract: Contract, reason_id: str) -> str:
    found = next((r for r in contract.pause_reasons if r.id == reason_id), None)
    return found.text if found else reason_id


def object_zone(view: ContractView, object_id: str | None) -> ZoneInfo:
    """The zone the object's people read time in, as the contract view answers it."""
    return ZoneInfo(view.local_calendar(object_id).spec.timezone)


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if value else "—"


def _problem_origin(contract: Contract, problem: dict[str, Any]) -> str:
    """The object a problem opened on, and the contract's group it was counted on (ADR 55)."""
    name = _object_name(contract, problem["origin_object"])
    group_id = problem.get("group_id")
    if not group_id:
        return name
    group = contract.groups.get(group_id)
    return f"{name}, counted with its group {group.name if group else group_id}"


def _object_name(contract: Contract, object_id: str | None) -> str:
    if not object_id:
        return "outside the perimeter"
    obj = contract.object(object_id)
    return f"{obj.name} ({object_id})" if obj else object_id


# --------------------------------------------------------------------------- closure report


_ACTION_WORDS = {
    "acknowledge": "took the incident into work",
    "diagnosis": "reported a diagnosis",
    "pause": "paused a clock",
    "resume": "resumed a clock",
    "restored": "reported the service restored",
    "confirm": "confirmed restoration",
    "reject": "rejected the restoration",
    "reopen": "reopened the incident",
    "reclassify": "reclassified the incident",
    "reroute": "re-routed the incident",
    "note": "added a note",
    "update": "updated the customer",
}


def _action_row(contract: Contract, data: dict[str, Any]) -> tuple[str, str]:
    who = f"{data.get('actor', '')} ({_party(contract, data.get('party'))})"
    text = _ACTION_WORDS.get(data.get("action", ""), str(data.get("action")))
    if data.get("clock"):
        text += f" ({data['clock']}"
        text += f", {_reason(contract, data['pause_reason'])})" if data.get("pause_reason") else ")"
    if data.get("layer"):
        text += f"; layer {data['layer']}"
    if data.get("note"):
        text += f": {data['note']}"
    return text, who


def _notification_row(contract: Contract, data: dict[str, Any]) -> tuple[str, str]:
    about = str(data.get("cause", "")).removeprefix("baton.").replace("_", " ")
    text = (
        f"told {data.get('recipient')} by {data.get('channel')} ({about})"
        if data.get("outcome") == "sent"
        else f"could not reach {data.get('recipient')} by {data.get('channel')}"
        f" after {data.get('attempts')} tries ({about})"
    )
    return text, _party(contract, data.get("recipient_party"))


# What each event says in the timeline, and who did it ("—": nobody in particular).
_ROWS: dict[str, Callable[[Contract, dict[str, Any]], tuple[str, str]]] = {
    EventType.ACTION_ACCEPTED.value: _action_row,
    EventType.NOTIFICATION.value: _notification_row,
    EventType.ASSIGNMENT_ISSUED.value: lambda c, d: (
        f"assigned as {d.get('role')}",
        _party(c, d.get("party")),
    ),
    EventType.INCIDENT_OPENED.value: lambda _, d: (
        f"incident opened: {d.get('summary', '')}",
        "—",
    ),
    EventType.SLA_CLOCK_STARTED.value: lambda _, d: (f"{d.get('clock')} clock started", "—"),
    EventType.SLA_CLOCK_STOPPED.value: lambda _, d: (
        f"{d.get('clock')} clock " + ("stopped, met" if d.get("met") else "stopped, missed"),
        "—",
    ),
    EventType.SLA_CLOCK_PAUSED.value: lambda c, d: (
        f"{d.get('clock')} clock paused ({_reason(c, d.get('pause_reason', ''))})",
        "—",
    ),
    EventType.SLA_CLOCK_RESUMED.value: lambda _, d: (
        f"{d.get('clock')} clock counts again ({d.get('cause')})",
        "—",
    ),
    EventType.SOURCE_ACKNOWLEDGED.value: lambda _, d: (
        "acknowledged at the monitoring source (the response clock runs on)",
        d.get("client") or d.get("source", "—"),
    ),
    EventType.SLA_BREACHED.value: lambda _, d: (f"{d.get('clock')} target breached", "—"),
    EventType.INCIDENT_CLOSED.value: lambda _, d: (
        "closed on the customer's confirmation",
        d.get("confirmed_by", "—"),
    ),
}


def _timeline_row(contract: Contract, event: dict[str, Any], zone: ZoneInfo) -> tuple[str, ...]:
    row = _ROWS.get(str(event["type"]))
    if row is None:
        kind = str(event["type"]).removeprefix("baton.")
        return (_local(event["time"], zone), kind.replace("_", " ").replace(".", ": "), "—")
    text, who = row(contract, event["data"])
    return (_local(event["time"], zone), text, who)


def _change_row(contract: Contract, change: dict[str, Any], zone: ZoneInfo) -> tuple[str, ...]:
    text = str(change["summary"]) + (f" ({change['link']})" if change.get("link") else "")
    obj = change.get("object_id")
    return (
        _local(change["at"], zone),
        seconds_words(change["before_seconds"]),
        _object_name(contract, obj) if obj else "every object",
        text,
        str(change["source"]) + (f", {change['by_whom']}" if change.get("by_whom") else ""),
    )


def _clock_result(clock: dict[str, Any]) -> str:
    if clock.get("breached_at") is not None or clock.get("met") is False:
        return "breached" + (
            f" at {clock['breached_at']:%Y-%m-%d %H:%M} UTC" if clock.get("breached_at") else ""
        )
    if clock.get("met"):
        margin = clock.get("margin")
        return "met" + (f", {duration_words(margin)} to spare" if margin else "")
    if clock.get("paused_reason"):
        return f"paused ({clock['paused_reason']})"
    return "running"


def closure_document(facts: ClosureFacts, view: ContractView) -> Document:
    """The closure report under ``view``'s version (the incident's own, chosen by the shell): its
    facts, its times, what the parties did and said, and what the record shows."""
    contract = view.contract
    inc, report = facts.incident, facts.report
    zone = object_zone(view, inc.get("object_id"))
    started = report["started_at"] if report else inc["first_alert_at"]
    restored = report["restored_at"] if report else inc.get("restored_at")
    closed = report["closed_at"] if report else inc.get("closed_at")
    downtime = (restored - started).total_seconds() if restored and started else None
    participants, confirmation = _participants(facts, contract)
    status = inc["status"]
    draft = (
        ()
        if report
        else (
            f"This incident is {status}, not closed: this report is a draft until the customer "
            "confirms restoration.",
        )
    )
    confirmed = _confirmed(facts, contract, confirmation, zone)
    coordinator = inc.get("coordinator") or contract.coordinator
    told = updates.customer_updates(facts.events)
    customer = next((p for p, party in contract.parties.items() if party.kind == "customer"), None)
    times = (
        Fact("Started (first alert)", _local(started, zone)),
        Fact("Registered", _local(inc["opened_at"], zone)),
        Fact("Taken into work", _local(inc.get("acknowledged_at"), zone)),
        Fact("Restored", _local(restored, zone)),
        Fact("Closed", _local(closed, zone)),
        Fact("Downtime", seconds_words(downtime)),
    )
    return Document(
        kind="closure-report",
        title=f"Closure report — incident {inc['id']}",
        subtitle=str(inc["summary"]),
        stamp=(
            f"Closure report · incident {inc['id']} · contract {contract.id} "
            f"version {contract.version}"
        ),
        facts=(
            Fact("Object", _object_name(contract, inc.get("object_id"))),
            Fact(
                "Origin",
                f"{_object_name(contract, inc.get('origin_object'))}, "
                f"{inc.get('origin_layer') or '—'} layer",
            ),
            Fact("Category / priority", f"{inc['category']} / {inc['priority']}"),
            Fact("Status", status),
            Fact("Coordinator", _party(contract, coordinator)),
            Fact("Primary party", _party(contract, inc.get("primary_party"))),
            Fact("Alerts", str(inc.get("alert_count", 1))),
            Fact("Objects affected", ", ".join(inc.get("objects") or []) or "—"),
        ),
        sections=(
            Section("Times", (*draft, f"Times are in the object's zone, {zone.key}."), facts=times),
            *_account_sections(facts, participants, confirmed),
            *_record_sections(facts, contract, zone, told),
        ),
        signatures=tuple(
            Signature(_party(contract, pid), role)
            for pid, role in ((coordinator, "Coordinator"), (customer, "Customer"))
            if pid
        ),
    )


def _participants(
    facts: ClosureFacts, contract: Contract
) -> tuple[list[tuple[str, str, str]], dict[str, Any] | None]:
    """Who took part, side by side, and the customer's confirmation (if any)."""
    report = facts.report
    people: dict[str, set[str]] = defaultdict(set)
    confirmation = None
    for event in facts.events:
        if event["type"] == EventType.ACTION_ACCEPTED.value:
            people[event["data"]["party"]].add(event["data"]["actor"])
            if event["data"]["action"] == "confirm":
                confirmation = event["data"]
    customer_ids = set(report["customer_participants"]) if report else set()
    customer_ids |= {p for p, party in contract.parties.items() if party.kind == "customer"} & set(
        people
    )
    provider_ids = (set(report["provider_participants"]) if report else set()) | (
        set(people) - customer_ids
    )
    participants = [
        (side, _party(contract, pid), ", ".join(sorted(people.get(pid, ()))) or "—")
        for side, ids in (("Provider", provider_ids), ("Customer", customer_ids))
        for pid in sorted(ids)
    ]
    return participants, confirmation


def _confirmed(
    facts: ClosureFacts, contract: Contract, confirmation: dict[str, Any] | None, zone: ZoneInfo
) -> str:
    """Who confirmed restoration, or that nobody has yet."""
    inc, report = facts.incident, facts.report
    if confirmation:
        confirmed = (
            f"Restoration confirmed by {confirmation['actor']} "
            f"({_party(contract, confirmation['party'])}) at "
            f"{_local(_when(confirmation['at']), zone)} ({zone.key})."
        ) + access_view.completion(contract, inc.get("object_id"), confirmation)
    elif report:
        confirmed = f"Restoration confirmed by {_party(contract, report['confirmed_by'])}."
    else:
        confirmed = "The customer has not confirmed restoration yet."
    return confirmed


def _account_sections(
    facts: ClosureFacts, participants: list[tuple[str, str, str]], confirmed: str
) -> tuple[Section, ...]:
    """What the parties state: cause and actions, who took part and confirmed, the risk."""
    report = facts.report
    return (
        Section(
            "Cause and actions",
            (f"Cause: {report['cause']}" if report else "Cause: not yet stated.",),
            tables=(
                Table(
                    "Actions taken",
                    ("#", "Action"),
                    tuple(
                        (str(i), a)
                        for i, a in enumerate(report["actions_taken"] if report else [], 1)
                    ),
                ),
            ),
        ),
        Section(
            "Participants and confirmation",
            (confirmed,),
            tables=(
                Table(
                    "Participants of both sides",
                    ("Side", "Party", "People"),
                    tuple(participants),
                ),
            ),
        ),
        Section(
            "Recurrence risk",
            (report["recurrence_risk"] if report else "Not yet assessed.",),
        ),
    )


def _record_sections(
    facts: ClosureFacts, contract: Contract, zone: ZoneInfo, told: list[updates.CustomerUpdate]
) -> tuple[Section, ...]:
    """What the record shows: clocks and pauses, access, changes, customer updates, timeline."""
    clock_rows = tuple(
        (
            c["clock"],
            _local(c["started_at"], zone),
            duration_words(c["target"], business_day=_business_day(contract, c["calendar"])),
            _local(c["deadline"], zone),
            _local(c.get("stopped_at"), zone),
            duration_words(c["paused_for"]) if c.get("paused_for") else "none",
            _clock_result(c),
        )
        for c in facts.clocks
    )
    pause_rows = tuple(
        (
            p.clock,
            _reason(contract, p.reason),
            f"{p.actor} ({_party(contract, p.party)})",
            _local(p.start, zone),
            _local(p.end, zone) if p.end else "still paused",
            duration_words(p.business) if p.business is not None else "—",
            "; ".join(p.evidence) or "—",
            _answer_words(p, contract),
        )
        for p in pauses(facts.events)
    )
    return (
        Section(
            "SLA clocks",
            tables=(
                Table(
                    "Clocks",
                    ("Clock", "Started", "Target", "Deadline", "Stopped", "Paused", "Result"),
                    clock_rows,
                ),
                Table(
                    "Pauses by reason and party",
                    (
                        "Clock",
                        "Reason",
                        "Asked by",
                        "From",
                        "To",
                        "Excluded",
                        "Evidence",
                        "Customer",
                    ),
                    pause_rows,
                ),
            ),
        ),
        Section(
            "Access and approvals",
            tables=(
                Table(
                    f"Access requests ({zone.key})",
                    access_view.COLUMNS,
                    access_view.rows(facts.events, lambda t: _local(t, zone)),
                ),
            ),
        ),
        Section(
            "What changed before the first alert",
            (
                "Changes on the origin and on what it depends on in the 24 hours before the"
                " first alert, nearest first.",
            ),
            tables=(
                Table(
                    f"Changes ({zone.key})",
                    ("Time", "Before the alert", "Object", "Change", "Source"),
                    tuple(_change_row(contract, c, zone) for c in facts.changes),
                ),
            ),
        ),
        Section(
            "Updates to the customer",
            (updates.summary(told),),
            tables=(
                Table(
                    f"Updates to the customer ({zone.key})",
                    ("Time", "By", "Update"),
                    tuple((_local(u.at, zone), u.actor, u.text) for u in told),
                ),
            ),
        ),
        Section(
            "Timeline",
            tables=(
                Table(
                    f"Every recorded event ({zone.key})",
                    ("Time", "Event", "By"),
                    tuple(_timeline_row(contract, e, zone) for e in facts.events),
                ),
            ),
        ),
    )


def _business_day(contract: Contract, calendar_id: str | None) -> timedelta | None:
    from shared.contract.appendix import business_day

    return business_day(contract, calendar_id)


# --------------------------------------------------------------------------- monthly report


def _share(met: int, breached: int) -> str:
    decided = met + breached
    return f"{met / decided:.1%}" if decided else "—"


def _compliance_by(
    rows: Sequence[dict[str, Any]], key: str, name: Any = str
) -> tuple[Table, dict[str, dict[str, float]]]:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        cell = sums[(str(r[key]), r["clock"])]
        cell[0] += r["clocks"]
        cell[1] += r["met"]
        cell[2] += r["breached"]
        cell[3] += r["running"]
    table_rows = []
    shares: dict[str, dict[str, float]] = defaultdict(dict)
    for (group, clock), (clocks, met, breached, running) in sorted(sums.items()):
        table_rows.append(
            (
                *((name(group),) if key != "clock" else ()),
                clock,
                str(clocks),
                str(met),
                str(breached),
                str(running),
                _share(met, breached),
            )
        )
        if met + breached:
            shares[clock][name(group)] = met / (met + breached)
    title = {
        "party": "contractor",
        "category": "category",
        "priority": "priority",
        "clock": "clock",
    }[key]
    return (
        Table(
            f"Compliance per {title}",
            (
                *((title.capitalize(),) if key != "clock" else ()),
                "Clock",
                "Clocks",
                "Met",
                "Breached",
                "Running",
                "Compliance",
            ),
            tuple(table_rows),
        ),
        shares,
    )


def monthly_document(facts: MonthlyFacts, contract: Contract) -> Document:
    label = f"{facts.month:%Y-%m}"

    def party(pid: str | None) -> str:
        return _party(contract, pid)

    by_party, party_shares = _compliance_by(facts.compliance, "party", party)
    by_category, _ = _compliance_by(facts.compliance, "category")
    by_priority, _ = _compliance_by(facts.compliance, "priority")
    by_clock, _ = _compliance_by(facts.compliance, "clock")
    met = sum(r["met"] for r in facts.compliance)
    breached = sum(r["breached"] for r in facts.compliance)
    contractors = sorted({name for shares in party_shares.values() for name in shares})
    compliance_chart = Chart(
        "SLA compliance per contractor",
        "bar",
        tuple(contractors),
        tuple(
            Series(clock, tuple(party_shares[clock].get(c, 0.0) for c in contractors))
            for clock in ("response", "recovery")
            if clock in party_shares
        ),
        percent=True,
    )
    weeks = facts.weeks
    week_labels = tuple(f"week of {w['week']:%d %b}" for w in weeks)
    week_chart = Chart(
        "MTTA and MTTR per week (minutes)",
        "line",
        week_labels,
        (
            Series("MTTA", tuple(float(w["mtta"] or 0) / 60 for w in weeks)),
            Series("MTTR", tuple(float(w["mttr"] or 0) / 60 for w in weeks)),
        ),
        unit="minutes",
    )
    paused: dict[tuple[str, str], timedelta] = defaultdict(timedelta)
    apart: dict[tuple[str, str, str], timedelta] = defaultdict(timedelta)
    for p in pauses(facts.pause_events):
        paused[(p.reason, p.party)] += p.business or timedelta(0)
        apart[(p.reason, p.party, p.confirmation(contract))] += p.business or timedelta(0)
    pause_rows = sorted(paused.items(), key=lambda kv: kv[1], reverse=True)
    by_reason: dict[str, timedelta] = defaultdict(timedelta)
    for (reason, _), span in pause_rows:
        by_reason[_reason(contract, reason)] += span
    pause_chart = Chart(
        "Paused business time by reason (hours)",
        "barh",
        tuple(by_reason),
        (Series("paused", tuple(s.total_seconds() / 3600 for s in by_reason.values())),),
        unit="hours",
    )
    objects_chart = Chart(
        "Incidents per object (top 10)",
        "barh",
        tuple(_object_name(contract, r["object_id"]) for r in facts.top_objects),
        (Series("incidents", tuple(float(r["incidents"]) for r in facts.top_objects)),),
        unit="incidents",
    )
    totals = facts.totals
    return Document(
        kind="monthly-report",
        title=f"Monthly service report — {label}",
        subtitle=f"{contract.title or contract.id}",
        stamp=f"Monthly service report {label} · contract {contract.id} version {contract.version}",
        facts=(
            Fact("Month", f"{label} (UTC)"),
            Fact("Incidents opened", str(totals.get("incidents", 0))),
            Fact("Closed", str(totals.get("closed", 0))),
            Fact("SLA clocks met / breached", f"{met} / {breached}"),
            Fact("SLA compliance", _share(met, breached)),
            Fact("MTTA", seconds_words(_float(totals.get("mtta")))),
            Fact("MTTR", seconds_words(_float(totals.get("mttr")))),
            Fact("Outside the perimeter", str(len(facts.outside))),
            Fact("Missed expected events", str(len(facts.missed))),
        ),
        sections=(
            Section(
                "SLA compliance",
                (
                    "A clock is met when it stopped before its deadline and never breached; "
                    "running clocks are not counted yet. Clocks are counted in the month they "
                    "started.",
                ),
                tables=(by_party, by_category, by_priority, by_clock),
                charts=(compliance_chart,),
            ),
            Section(
                "Breaches and their causes",
                tables=(
                    Table(
                        "Breached clocks",
                        ("Incident", "Clock", "Priority", "Contractor", "Deadline (UTC)", "Cause"),
                        tuple(
                            (
                                f"{b['incident_id']}: {b['summary']}",
                                b["clock"],
                                b["priority"],
                                party(b["party"]),
                                f"{b['deadline']:%Y-%m-%d %H:%M}",
                                b.get("cause") or "not closed yet",
                            )
                            for b in facts.breaches
                        ),
                    ),
                ),
            ),
            Section(
                "Pauses",
                (
                    "Business time the clocks did not count, by the contract's pause reason and "
                    "the party that asked for the pause.",
                ),
                tables=(
                    Table(
                        "Pause time by reason and party",
                        ("Reason", "Party", "Paused (business time)", "Unconfirmed", "Disputed"),
                        tuple(
                            (
                                _reason(contract, reason),
                                party(pid),
                                duration_words(span),
                                duration_words(apart[(reason, pid, "unconfirmed")]),
                                duration_words(apart[(reason, pid, "disputed")]),
                            )
                            for (reason, pid), span in pause_rows
                        ),
                    ),
                ),
                charts=(pause_chart,) if by_reason else (),
            ),
            Section(
                "Waiting for access and approvals",
                (
                    "Access requests of the month's incidents, per access rule and the party "
                    "that asked: how long the answers took, and the clock time the automatic "
                    "no-access / no-approver pauses excluded.",
                ),
                tables=(
                    Table(
                        "Access waits by rule and party",
                        access_view.WAIT_COLUMNS,
                        access_view.waits(facts.pause_events, party),
                    ),
                ),
            ),
            Section(
                "Mean times per week",
                (
                    "MTTA: from registration to taken into work. MTTR: from the first alert to "
                    "restoration. Weeks start on Monday.",
                ),
                tables=(
                    Table(
                        "MTTA and MTTR per week",
                        ("Week", "Incidents", "MTTA", "MTTR"),
                        tuple(
                            (
                                f"{w['week']:%Y-%m-%d}",
                                str(w["incidents"]),
                                seconds_words(_float(w["mtta"])),
                                seconds_words(_float(w["mttr"])),
                            )
                            for w in weeks
                        ),
                    ),
                ),
                charts=(week_chart,),
            ),
            Section(
                "Recurring objects and origins",
                tables=(
                    Table(
                        "Objects with the most incidents",
                        ("Object", "Incidents"),
                        tuple(
                            (_object_name(contract, r["object_id"]), str(r["incidents"]))
                            for r in facts.top_objects
                        ),
                    ),
                    Table(
                        "Where incidents started (probable origin)",
                        ("Origin object", "Layer", "Incidents"),
                        tuple(
                            (
                                _object_name(contract, r["origin_object"]),
                                r["origin_layer"] or "—",
                                str(r["incidents"]),
                            )
                            for r in facts.top_origins
                        ),
                    ),
                ),
                charts=(objects_chart,),
            ),
            Section(
                "Problem records",
                (
                    "Incidents that kept recurring on one origin, each owned by its layer's "
                    "primary until its cause is known and fixed (ADR 48).",
                ),
                tables=(
                    Table(
                        "Open and closed problems",
                        ("Problem", "Origin", "Owner", "Opened", "Fix due", "Status", "Incidents"),
                        tuple(
                            (
                                r["id"],
                                _problem_origin(contract, r),
                                _party(contract, r["owner"]),
                                f"{r['opened_at']:%Y-%m-%d}",
                                f"{r['fix_due']:%Y-%m-%d}",
                                r["status"] + (f": {r['cause']}" if r.get("cause") else ""),
                                ", ".join(r["incidents"]),
                            )
                            for r in facts.problems
                        ),
                    ),
                ),
            ),
            Section(
                "Missed expected events",
                (
                    "Scheduled exchanges, jobs, backups, their checks and test restores that did "
                    "not report in time (the check-in watchdog), each an incident.",
                ),
                tables=(
                    Table(
                        "Expected events that did not happen",
                        ("Incident", "Object", "What", "Opened (UTC)", "Status"),
                        tuple(_missed_row(contract, r) for r in facts.missed),
                    ),
                ),
            ),
            Section(
                "Updates to the customer",
                (
                    "Updates the coordinators did not give by the time the contract's cadence "
                    "(sla.update_every) set, each an escalation.",
                ),
                tables=(
                    Table(
                        "Overdue updates per coordinator",
                        ("Coordinator", "Priority", "Overdue updates"),
                        tuple(
                            (_party(contract, r["coordinator"]), r["priority"], str(r["overdue"]))
                            for r in facts.overdue_updates
                        ),
                    ),
                ),
            ),
            Section(
                "Outside the perimeter",
                ("Alerts from objects the contract does not name: candidates for the registry.",),
                tables=(
                    Table(
                        "Incidents outside the perimeter",
                        ("Incident", "Opened (UTC)", "Summary", "Alerts", "Status"),
                        tuple(
                            (
                                r["id"],
                                f"{r['opened_at']:%Y-%m-%d %H:%M}",
                                r["summary"],
                                str(r["alert_count"]),
                                r["status"],
                            )
                            for r in facts.outside
                        ),
                    ),
                ),
            ),
        ),
    )


def _missed_row(contract: Contract, row: dict[str, Any]) -> tuple[str, ...]:
    from shared.checkins import DUTY_WORDS, Duty

    name = str(row["fp"]).removeprefix("checkin:")
    object_id, _, duty = name.rpartition("/")
    what = DUTY_WORDS[Duty(duty)] if duty in Duty.__members__.values() else duty
    return (
        row["id"],
        _object_name(contract, object_id or row["object_id"]),
        what,
        f"{row['opened_at']:%Y-%m-%d %H:%M}",
        row["status"],
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
