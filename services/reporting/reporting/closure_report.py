"""The closure report of one incident: its facts, its times, what the parties did and said,
and what the record shows.

The facts come from ``document_facts.closure_facts`` (the read model and the audit trail);
``closure_document`` is a pure function of those facts and the incident's contract version, so
the same figures feed HTML, PDF and JSON (``shared.documents``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reporting import access_view, updates
from reporting.document_facts import ClosureFacts
from reporting.document_words import local_time, object_name, object_zone, party_name, reason_text
from reporting.pauses import Pause, as_datetime, pauses
from shared.contract.model import Contract
from shared.contract.view import ContractView
from shared.documents import Document, Fact, Section, Signature, Table
from shared.documents.words import duration_words, seconds_words
from shared.events import EventType


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
        Fact("Started (first alert)", local_time(started, zone)),
        Fact("Registered", local_time(inc["opened_at"], zone)),
        Fact("Taken into work", local_time(inc.get("acknowledged_at"), zone)),
        Fact("Restored", local_time(restored, zone)),
        Fact("Closed", local_time(closed, zone)),
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
            Fact("Object", object_name(contract, inc.get("object_id"))),
            Fact(
                "Origin",
                f"{object_name(contract, inc.get('origin_object'))}, "
                f"{inc.get('origin_layer') or '—'} layer",
            ),
            Fact("Category / priority", f"{inc['category']} / {inc['priority']}"),
            Fact("Status", status),
            Fact("Coordinator", party_name(contract, coordinator)),
            Fact("Primary party", party_name(contract, inc.get("primary_party"))),
            Fact("Alerts", str(inc.get("alert_count", 1))),
            Fact("Objects affected", ", ".join(inc.get("objects") or []) or "—"),
        ),
        sections=(
            Section("Times", (*draft, f"Times are in the object's zone, {zone.key}."), facts=times),
            *_account_sections(facts, participants, confirmed),
            *_record_sections(facts, contract, zone, told),
        ),
        signatures=tuple(
            Signature(party_name(contract, pid), role)
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
        (side, party_name(contract, pid), ", ".join(sorted(people.get(pid, ()))) or "—")
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
            f"({party_name(contract, confirmation['party'])}) at "
            f"{local_time(as_datetime(confirmation['at']), zone)} ({zone.key})."
        ) + access_view.completion(contract, inc.get("object_id"), confirmation)
    elif report:
        confirmed = f"Restoration confirmed by {party_name(contract, report['confirmed_by'])}."
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
    return (
        _clocks_section(facts, contract, zone),
        Section(
            "Access and approvals",
            tables=(
                Table(
                    f"Access requests ({zone.key})",
                    access_view.COLUMNS,
                    access_view.rows(facts.events, lambda t: local_time(t, zone)),
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
                    tuple((local_time(u.at, zone), u.actor, u.text) for u in told),
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


def _clocks_section(facts: ClosureFacts, contract: Contract, zone: ZoneInfo) -> Section:
    """Each SLA clock with its target and result, and each pause with who asked and why."""
    clock_rows = tuple(
        (
            c["clock"],
            local_time(c["started_at"], zone),
            duration_words(c["target"], business_day=_business_day(contract, c["calendar"])),
            local_time(c["deadline"], zone),
            local_time(c.get("stopped_at"), zone),
            duration_words(c["paused_for"]) if c.get("paused_for") else "none",
            _clock_result(c),
        )
        for c in facts.clocks
    )
    pause_rows = tuple(
        (
            p.clock,
            reason_text(contract, p.reason),
            f"{p.actor} ({party_name(contract, p.party)})",
            local_time(p.start, zone),
            local_time(p.end, zone) if p.end else "still paused",
            duration_words(p.business) if p.business is not None else "—",
            "; ".join(p.evidence) or "—",
            _answer_words(p, contract),
        )
        for p in pauses(facts.events)
    )
    return Section(
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


def _business_day(contract: Contract, calendar_id: str | None) -> timedelta | None:
    from shared.contract.appendix import business_day

    return business_day(contract, calendar_id)


def _answer_words(p: Pause, contract: Contract) -> str:
    """The customer's answer to a pause, as the closure report says it."""
    state = p.confirmation(contract)
    if p.answer is None:
        return state or "—"
    who = f"{p.answer.get('actor')} ({party_name(contract, p.answer.get('party'))})"
    note = f": {p.answer['note']}" if p.answer.get("note") else ""
    return f"{state} by {who}{note}"


def _change_row(contract: Contract, change: dict[str, Any], zone: ZoneInfo) -> tuple[str, ...]:
    text = str(change["summary"]) + (f" ({change['link']})" if change.get("link") else "")
    obj = change.get("object_id")
    return (
        local_time(change["at"], zone),
        seconds_words(change["before_seconds"]),
        object_name(contract, obj) if obj else "every object",
        text,
        str(change["source"]) + (f", {change['by_whom']}" if change.get("by_whom") else ""),
    )


def _timeline_row(contract: Contract, event: dict[str, Any], zone: ZoneInfo) -> tuple[str, ...]:
    row = _ROWS.get(str(event["type"]))
    if row is None:
        kind = str(event["type"]).removeprefix("baton.")
        return (local_time(event["time"], zone), kind.replace("_", " ").replace(".", ": "), "—")
    text, who = row(contract, event["data"])
    return (local_time(event["time"], zone), text, who)


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
    who = f"{data.get('actor', '')} ({party_name(contract, data.get('party'))})"
    text = _ACTION_WORDS.get(data.get("action", ""), str(data.get("action")))
    if data.get("clock"):
        text += f" ({data['clock']}"
        text += (
            f", {reason_text(contract, data['pause_reason'])})" if data.get("pause_reason") else ")"
        )
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
    return text, party_name(contract, data.get("recipient_party"))


# What each event says in the timeline, and who did it ("—": nobody in particular).
_ROWS: dict[str, Callable[[Contract, dict[str, Any]], tuple[str, str]]] = {
    EventType.ACTION_ACCEPTED.value: _action_row,
    EventType.NOTIFICATION.value: _notification_row,
    EventType.ASSIGNMENT_ISSUED.value: lambda c, d: (
        f"assigned as {d.get('role')}",
        party_name(c, d.get("party")),
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
        f"{d.get('clock')} clock paused ({reason_text(c, d.get('pause_reason', ''))})",
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
