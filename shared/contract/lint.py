"""Lint: every rule of ``findings.RULES`` checked against a parsed contract.

Each check is a pure function ``Contract -> Iterator[Issue]`` with paths in the model's terms;
``lint_parsed`` maps them to file and line. Checks never assume references resolve: they run on
contracts that ``load_contract`` would refuse, which is the point of linting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.contract.findings import RULES, FieldPath, Finding
from shared.contract.load import Parsed, parse_path
from shared.contract.model import (
    ALL_PERIODS,
    CORE_LAYERS,
    CRITICALITIES,
    SCHEDULED_KINDS,
    VERSIONED_LAYERS,
    Contract,
    Period,
)
from shared.contract.model_validators import SITE_HOURS
from shared.events import Category

_REFERENCE_CODES = frozenset({"BTN005", "BTN204", "BTN403", "BTN404"})


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message: str
    path: FieldPath = ()
    ref: str | None = None  # the id referred to, for reference findings

    def __post_init__(self) -> None:
        assert self.code in RULES, self.code


Check = Callable[[Contract], Iterator[Issue]]


def lint_path(path: Path) -> list[Finding]:
    return lint_parsed(parse_path(path))


def lint_parsed(parsed: Parsed, senders: frozenset[str] | None = None) -> list[Finding]:
    """Loader and schema findings, then every check on what could be built; sorted by place.
    With ``senders`` (the channel kinds this deployment can send), BTN701 for the others."""
    findings = list(parsed.findings)
    if parsed.contract is not None and senders is not None:
        findings.extend(
            parsed.finding(i.code, i.message, i.path)
            for i in unsent_channels(parsed.contract, senders)
        )
    if parsed.contract is not None:
        open_points = parsed.contract.open_points
        deferred: dict[int, list[Issue]] = {i: [] for i in range(len(open_points))}
        for issue in check_contract(parsed.contract):
            if issue.code in _REFERENCE_CODES and issue.ref in parsed.dropped_ids:
                continue  # the target was already reported as a schema error
            held_by = open_point_of(parsed.contract, issue)
            if held_by is not None:
                deferred[held_by].append(issue)
                continue
            findings.append(parsed.finding(issue.code, issue.message, issue.path))
        for index, point_issues in deferred.items():
            open_point = open_points[index]
            covers = "; ".join(f"{i.code} {i.message}" for i in point_issues) or "nothing yet"
            note = f" ({open_point.note})" if open_point.note else ""
            findings.append(
                parsed.finding(
                    "BTN601",
                    f"{open_point.field} to be agreed{note}; lint would demand: {covers}",
                    ("open_points", index),
                )
            )
    return sorted(findings, key=lambda f: (str(f.file or ""), f.line or 0, f.code))


# channels of machines, not people: Kafka topics and webhooks are delivered by the router itself
MACHINE_CHANNELS = frozenset({"kafka", "http"})


def unsent_channels(contract: Contract, senders: frozenset[str]) -> Iterator[Issue]:
    """BTN701: one finding per channel kind the contract's people have and no sender serves,
    naming who has it (at the first such contact)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for party_id, party in contract.parties.items():
        for contact_id, contact in party.contacts.items():
            for channel in contact.channels:
                if channel.value not in senders and channel.value not in MACHINE_CHANNELS:
                    found.setdefault(channel.value, []).append((party_id, contact_id))
    for kind, who in sorted(found.items()):
        party_id, contact_id = who[0]
        names = ", ".join(f"{p}/{c}" for p, c in who[:6]) + (" …" if len(who) > 6 else "")
        yield Issue(
            "BTN701",
            f"{kind}: no sender configured; {len(who)} contact(s) reached by hand ({names})",
            ("parties", party_id, "contacts", contact_id, "channels", kind),
        )


def open_point_of(contract: Contract, issue: Issue) -> int | None:
    """The index of the open point whose field holds ``issue`` (never an integrity rule:
    services depend on those, so they cannot be left open)."""
    if RULES[issue.code].integrity or not contract.open_points:
        return None
    path = issue.path
    names = [".".join(str(p) for p in path)]
    index = path[1] if len(path) >= 2 and path[0] == "objects" else None
    if isinstance(index, int) and index < len(contract.objects):
        names.append(".".join(str(p) for p in ("objects", contract.objects[index].id, *path[2:])))
    for index, point in enumerate(contract.open_points):
        for name in names:
            if name == point.field or name.startswith(point.field + "."):
                return index
    return None


def check_contract(contract: Contract) -> list[Issue]:
    return [issue for check in CHECKS for issue in check(contract)]


# --------------------------------------------------------------------------- helpers


def _ref_party(contract: Contract, party: str | None, path: FieldPath) -> Iterator[Issue]:
    if party is not None and party not in contract.parties:
        yield Issue("BTN005", f"unknown party {party!r}", path, party)


def _ref_contact(contract: Contract, ref: str | None, path: FieldPath) -> Iterator[Issue]:
    if ref is not None and contract.contact(ref) is None:
        yield Issue("BTN005", f"unknown contact {ref!r} (write party/contact)", path, ref)


def _ref_calendar(contract: Contract, calendar: str | None, path: FieldPath) -> Iterator[Issue]:
    if calendar is not None and contract.calendar_spec(calendar) is None:
        yield Issue("BTN005", f"unknown calendar {calendar!r}", path, calendar)


def _unknown(
    code: str, owner: str, what: str, ref: str | None, *, known: Container[str], at: FieldPath
) -> Iterator[Issue]:
    """``owner: unknown what 'ref'`` when ``ref`` is given and not ``known``."""
    if ref is not None and ref not in known:
        yield Issue(code, f"{owner}: unknown {what} {ref!r}", at, ref)


def _unknown_in(
    code: str,
    owner: str,
    what: str,
    ids: list[str],
    *,
    known: Container[str],
    at: FieldPath,
) -> Iterator[Issue]:
    """``owner: unknown what 'id'`` for each id of the list at ``at`` that is not ``known``."""
    for index, ref in enumerate(ids):
        yield from _unknown(code, owner, what, ref, known=known, at=(*at, index))


def _duplicates(ids: list[str]) -> set[str]:
    return {i for i, n in Counter(ids).items() if n > 1}


# --------------------------------------------------------------------------- checks


def check_unique_ids(contract: Contract) -> Iterator[Issue]:
    sections: list[tuple[str, list[str]]] = [
        ("objects", [o.id for o in contract.objects]),
        ("calendars", [c.id for c in contract.calendars]),
        ("pause_reasons", [p.id for p in contract.pause_reasons]),
        ("maintenance_windows", [w.id for w in contract.maintenance_windows]),
        ("exclusions", [e.id for e in contract.exclusions]),
        ("escalation", [str(e.level) for e in contract.escalation]),
    ]
    for section, ids in sections:
        twice = _duplicates(ids)
        seen: set[str] = set()
        for index, item in enumerate(ids):
            if item in twice and item in seen:
                yield Issue(
                    "BTN004", f"{section}: id {item!r} is used more than once", (section, index)
                )
            seen.add(item)


def _first_line_desk(contract: Contract) -> Iterator[Issue]:
    """``first_line``: a party, or ``party/contact`` with hours of its own (BTN108 if none);
    every contact's own hours name a calendar."""
    for pid, party in contract.parties.items():
        for contact_id, person in party.contacts.items():
            path: FieldPath = ("parties", pid, "contacts", contact_id, "hours")
            yield from _ref_calendar(contract, person.hours, path)
    desk = contract.first_line
    if desk is None or "/" not in desk:
        yield from _ref_party(contract, desk, ("first_line",))
        return
    yield from _ref_contact(contract, desk, ("first_line",))
    resolved = contract.contact(desk)
    contact_id = desk.partition("/")[2]
    if (
        resolved is not None
        and not resolved[1].hours
        and not any(shift.contact == contact_id for shift in resolved[0].duty)
    ):
        yield Issue(
            "BTN108",
            f"first_line {desk} has no hours: it is taken to accept tickets round the clock",
            ("first_line",),
        )


RESERVED_PARTY_IDS = frozenset({"intake", "router", "sla-clock", "reporting", "admin", "operator"})
"""Identities of Baton's own: each service's Kafka user and consumer groups, the Kafka
administrator, the operator's reader token (``baton.credentials``). A party named like one would
be granted that identity's rights; services authenticate as ``baton-<service>``, so ``baton-*``
is reserved too."""


def reserved_party_id(pid: str) -> bool:
    low = pid.lower()
    return low in RESERVED_PARTY_IDS or low.startswith("baton")


def check_party_ids(contract: Contract) -> Iterator[Issue]:
    for pid in contract.parties:
        if reserved_party_id(pid):
            yield Issue("BTN109", f"party id {pid!r} is reserved for Baton", ("parties", pid))


def check_parties(contract: Contract) -> Iterator[Issue]:
    yield from _ref_party(contract, contract.coordinator, ("coordinator",))
    yield from _first_line_desk(contract)
    if not any(p.kind == "customer" for p in contract.parties.values()):
        yield Issue("BTN107", "no party has kind: customer", ("parties",))
    for pid, party in contract.parties.items():
        here: FieldPath = ("parties", pid)
        for index, shift in enumerate(party.duty):
            yield from _ref_calendar(contract, shift.calendar, (*here, "duty", index, "calendar"))
            if shift.contact not in party.contacts:
                yield Issue(
                    "BTN106",
                    f"{pid}: duty shift names unknown contact {shift.contact!r}",
                    (*here, "duty", index, "contact"),
                )
        yield from _unknown_in(
            "BTN106",
            pid,
            "backup contact",
            party.backup_contacts,
            known=party.contacts,
            at=(*here, "backup_contacts"),
        )
        if contract.is_round_the_clock(pid) and not party.backup_contacts:
            yield Issue("BTN103", f"{pid} answers 24/7 but names no backup contact", here)
        if party.kind != "vendor" and not (party.responsible_for and party.not_responsible_for):
            yield Issue(
                "BTN104", f"{pid}: responsible_for / not_responsible_for not both filled", here
            )
        if party.kind == "vendor" and party.vendor_handling is None:
            yield Issue(
                "BTN105",
                f"vendor {pid}: who opens cases, collects logs, corresponds and "
                "decides fixes is not said",
                here,
            )
        if party.vendor_handling is not None:
            for name, value in party.vendor_handling.model_dump().items():
                if name != "support_contract":
                    yield from _ref_party(contract, value, (*here, "vendor_handling", name))


def check_layers(contract: Contract) -> Iterator[Issue]:
    for index, assignment in enumerate(contract.layers):
        yield from _ref_party(contract, assignment.primary, ("layers", index, "primary"))
    needed = list(CORE_LAYERS) + [o.layer for o in contract.objects if o.layer not in CORE_LAYERS]
    for layer in dict.fromkeys(needed):
        entries = [i for i, a in enumerate(contract.layers) if a.layer == layer]
        if not entries:
            users = [o.id for o in contract.objects if o.layer == layer]
            used = (
                f" (used by {', '.join(users[:3])}{'…' if len(users) > 3 else ''})" if users else ""
            )
            yield Issue("BTN101", f"layer {layer.value!r} has no primary party{used}", ("layers",))
        for index in entries[1:]:
            names = ", ".join(contract.layers[i].primary for i in entries)
            yield Issue(
                "BTN102",
                f"layer {layer.value!r} has {len(entries)} primaries: {names}",
                ("layers", index),
            )


def check_object_references(contract: Contract) -> Iterator[Issue]:
    for index, obj in enumerate(contract.objects):
        here: FieldPath = ("objects", index)
        references: list[tuple[str, str, str | None, Container[str]]] = [
            ("location", "location", obj.location, contract.locations),
            ("access", "access rule", obj.access, contract.access_rules),
        ]
        for field, what, ref, known in references:
            yield from _unknown("BTN005", obj.id, what, ref, known=known, at=(*here, field))
        yield from _ref_calendar(contract, obj.calendar, (*here, "calendar"))
        yield from _ref_party(contract, obj.executor, (*here, "executor"))
        yield from _ref_contact(contract, obj.owner, (*here, "owner"))
        yield from _ref_party(contract, obj.vendor, (*here, "vendor"))
        if obj.backup is not None:
            for name in ("made_by", "checked_by", "test_restore_by"):
                party = getattr(obj.backup, name)
                yield from _ref_party(contract, party, (*here, "backup", name))
        # a schedule that skips holidays names the calendar whose holidays it skips
        schedules = [((*here, "schedule"), obj.schedule)]
        if obj.backup is not None:
            schedules += [((*here, "backup", "copies"), obj.backup.copies)]
            schedules += [((*here, "backup", "check"), obj.backup.check)]
        for where, schedule in schedules:
            if schedule is not None:
                yield from _ref_calendar(
                    contract, schedule.skip_holidays, (*where, "skip_holidays")
                )
    object_ids = {o.id for o in contract.objects}
    for gid, group in contract.groups.items():
        yield from _unknown_in(
            "BTN005",
            f"group {gid}",
            "object",
            group.objects,
            known=object_ids,
            at=("groups", gid, "objects"),
        )


def check_object_completeness(contract: Contract) -> Iterator[Issue]:
    alerted = {r.object for r in contract.alert_rules}
    for index, obj in enumerate(contract.objects):
        here: FieldPath = ("objects", index)
        critical = obj.criticality == "critical"
        if obj.executor is None:
            yield Issue("BTN202", f"{obj.id} has no executor", here)
        if obj.owner is None:
            yield Issue("BTN203", f"{obj.id} has no customer-side owner", here)
        if obj.layer in VERSIONED_LAYERS and not obj.version:
            yield Issue("BTN206", f"{obj.id} ({obj.layer.value}) names no version", here)
        if critical and obj.access is None:
            yield Issue("BTN207", f"critical {obj.id} has no access rule", here)
        backup = obj.backup
        if backup is not None and (backup.test_restore_by is None or not backup.test_restore_every):
            yield Issue(
                "BTN208",
                f"{obj.id}: backup has no test-restore owner and interval",
                (*here, "backup"),
            )
        if backup is not None and backup.checked_by is None:
            yield Issue("BTN211", f"{obj.id}: nobody checks the backups", (*here, "backup"))
        if obj.kind in SCHEDULED_KINDS and obj.schedule is None:
            yield Issue("BTN209", f"{obj.id} ({obj.kind.value}) has no expected schedule", here)
        if obj.environment not in contract.environments:
            yield Issue(
                "BTN501",
                f"{obj.id} is in {obj.environment.value!r}, which is not in environments:",
                (*here, "environment"),
            )
        if critical and not obj.match and not obj.matchers and obj.id not in alerted:
            yield Issue("BTN503", f"critical {obj.id} has no match labels or alert rule", here)


def check_dependencies(contract: Contract) -> Iterator[Issue]:
    index_of = {o.id: i for i, o in enumerate(contract.objects)}
    for index, obj in enumerate(contract.objects):
        for dep_index, dep in enumerate(obj.depends_on):
            if dep not in index_of:
                yield Issue(
                    "BTN204",
                    f"{obj.id} depends on unknown object {dep!r}",
                    ("objects", index, "depends_on", dep_index),
                    dep,
                )
    for cycle in find_cycles(contract):
        first = cycle[0]
        yield Issue(
            "BTN205",
            "dependency cycle: " + " -> ".join([*cycle, first]),
            ("objects", index_of[first], "depends_on"),
        )


def find_cycles(contract: Contract) -> list[list[str]]:
    """Each elementary cycle once (as found by depth-first search), starting at its least id."""
    graph = {o.id: list(o.depends_on) for o in contract.objects}
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    stack: list[str] = []
    found: dict[tuple[str, ...], list[str]] = {}

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                start = cycle.index(min(cycle))
                rotated = cycle[start:] + cycle[:start]
                found.setdefault(tuple(rotated), rotated)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return list(found.values())


def check_cover(contract: Contract) -> Iterator[Issue]:
    for index, obj in enumerate(contract.objects):
        if obj.criticality != "critical":
            continue
        here: FieldPath = ("objects", index)
        spec = contract.calendar_spec(obj.calendar)
        if spec is not None and spec.kind != "24x7":
            yield Issue(
                "BTN301",
                f"critical {obj.id} is supported on calendar {obj.calendar!r}, not 24x7",
                (*here, "calendar"),
            )
        answerers = {
            "layer primary": contract.primaries(obj.layer)[:1],
            "executor": [obj.executor] if obj.executor else [],
            # a first-line desk of its own may close: the coordinator accepts then (ADR 25)
            "intake": [contract.coordinator],
        }
        for role, parties in answerers.items():
            for party in parties:
                if party in contract.parties and not contract.is_round_the_clock(party):
                    yield Issue(
                        "BTN301", f"critical {obj.id}: {role} {party} has no 24x7 duty shift", here
                    )


def check_sla_policy(contract: Contract) -> Iterator[Issue]:
    sla = contract.sla
    if sla.period_calendar is None:
        yield Issue("BTN307", "sla.period_calendar is not set", ("sla",))
    else:
        yield from _ref_calendar(contract, sla.period_calendar, ("sla", "period_calendar"))
        spec = contract.calendar_spec(sla.period_calendar)
        if spec is not None and spec.kind == "24x7":
            yield Issue(
                "BTN307",
                "sla.period_calendar is always open: every instant is 'day'",
                ("sla", "period_calendar"),
            )
    for location_id, location in contract.locations.items():
        path: FieldPath = ("locations", location_id, "period_calendar")
        yield from _ref_calendar(contract, location.period_calendar, path)
    yield from _sites_on_their_own_clock(contract)
    for crit in CRITICALITIES:
        row = contract.priority_matrix.get(crit, {})
        missing = [c.value for c in Category if c not in row]
        if missing:
            yield Issue(
                "BTN303", f"priority_matrix.{crit} lacks {', '.join(missing)}", ("priority_matrix",)
            )


def _sites_on_their_own_clock(contract: Contract) -> Iterator[Issue]:
    """A site's written zone and holidays are those of the calendar that reads its day and
    night (BTN308), and of the business hours its objects are supported on (BTN309): ADR 40."""
    for location_id, location in contract.locations.items():
        here: FieldPath = ("locations", location_id)
        calendar_id = location.period_calendar or contract.sla.period_calendar
        spec = contract.calendar_spec(calendar_id) if calendar_id else None
        if spec is None or spec.kind == "24x7":
            continue
        whose = "its period_calendar" if location.period_calendar else "sla.period_calendar"
        wrong = []
        if location.timezone is not None and location.timezone != spec.timezone:
            wrong.append(f"timezone {location.timezone} but {whose} {spec.id} is {spec.timezone}")
        if location.holidays_country is not None and (
            location.holidays_country != spec.holidays_country
        ):
            wrong.append(
                f"holidays_country {location.holidays_country} but {whose} {spec.id} keeps "
                f"{spec.holidays_country or 'no public holidays'}"
            )
        if wrong:
            yield Issue(
                "BTN308",
                f"site {location_id} has {'; '.join(wrong)}: its objects would be read on "
                f"{spec.id}'s day and night",
                here,
            )
    for index, obj in enumerate(contract.objects):
        site = contract.locations.get(obj.location) if obj.location else None
        spec = contract.calendar_spec(obj.calendar)
        if site is None or site.timezone is None or spec is None or spec.kind == "24x7":
            continue
        if spec.timezone != site.timezone:
            yield Issue(
                "BTN309",
                f"{obj.id} at site {obj.location} ({site.timezone}) is supported on "
                f"{spec.id}, whose hours are in {spec.timezone}",
                ("objects", index, "calendar"),
            )


def check_sla_targets(contract: Contract) -> Iterator[Issue]:
    seen: dict[tuple[Category, str, Period], int] = {}
    for index, target in enumerate(contract.sla.targets):
        here: FieldPath = ("sla", "targets", index)
        if target.calendar != SITE_HOURS:  # the objects' sites' period calendars, checked there
            yield from _ref_calendar(contract, target.calendar, (*here, "calendar"))
        if target.response > target.recovery:
            yield Issue(
                "BTN305",
                f"{target.category.value} {target.priority}: response "
                f"{target.response} exceeds recovery {target.recovery}",
                here,
            )
        for period in target.periods:
            key = (target.category, target.priority, period)
            if key in seen:
                yield Issue(
                    "BTN306",
                    f"{target.category.value} {target.priority} {period.value} "
                    f"is also covered by sla.targets[{seen[key]}]",
                    here,
                )
            seen.setdefault(key, index)


def check_sla_coverage(contract: Contract) -> Iterator[Issue]:
    """Critical objects need every category at night, weekend and holiday (BTN302); every
    priority in use needs a daytime target, and non-critical ones every period (BTN304)."""
    covered = {(t.category, t.priority, p) for t in contract.sla.targets for p in t.periods}
    used = sorted({(o.criticality, c) for o in contract.objects for c in Category})
    reported: set[tuple[Category, str, Period]] = set()
    for crit, category in used:
        priority = contract.priority_matrix.get(crit, {}).get(category)
        periods = (Period.DAY,) if crit == "critical" else ALL_PERIODS
        for period in periods if priority is not None else ():
            key = (category, str(priority), period)
            if key not in covered and key not in reported:
                reported.add(key)
                yield Issue(
                    "BTN304",
                    f"no SLA target for {category.value} {priority} ({period.value})",
                    ("sla", "targets"),
                )
    row = contract.priority_matrix.get("critical", {})
    gaps = []
    for category, priority in row.items():
        absent = [
            p.value
            for p in (Period.NIGHT, Period.WEEKEND, Period.HOLIDAY)
            if (category, priority, p) not in covered
        ]
        if absent:
            gaps.append(f"{category.value} {priority} at {'/'.join(absent)}")
    for index, obj in enumerate(contract.objects):
        if obj.criticality == "critical" and gaps:
            yield Issue(
                "BTN302",
                f"critical {obj.id}: no SLA for " + "; ".join(gaps),
                ("objects", index, "criticality"),
            )


def check_update_cadence(contract: Contract) -> Iterator[Issue]:
    """Every priority a critical (24/7) object's failure can have — any category but a request —
    needs an update cadence, the contract's or Baton's default (BTN320, ADR 47)."""
    row = contract.priority_matrix.get("critical", {})
    if not any(o.criticality == "critical" for o in contract.objects):
        return
    priorities = sorted({p for c, p in row.items() if c != Category.REQUEST})
    for priority in priorities:
        if contract.sla.update_cadence(priority) is None:
            yield Issue(
                "BTN320",
                f"{priority}: no sla.update_every and no Baton default for it",
                ("sla", "update_every"),
            )


def check_access_rules(contract: Contract) -> Iterator[Issue]:
    for rid, rule in contract.access_rules.items():
        here: FieldPath = ("access_rules", rid)
        yield from _ref_contact(contract, rule.issued_by, (*here, "issued_by"))
        yield from _ref_contact(contract, rule.approver, (*here, "approver"))
        yield from _ref_contact(contract, rule.confirms_completion, (*here, "confirms_completion"))
        if rule.after_hours_approval and rule.approver is None:
            yield Issue(
                "BTN210",
                f"access rule {rid} needs after-hours approval but names no approver",
                here,
            )


def check_pauses(contract: Contract) -> Iterator[Issue]:
    if not contract.pause_reasons:
        yield Issue(
            "BTN409", "no pause reasons: the SLA clock can never stop fairly", ("pause_reasons",)
        )
    for index, reason in enumerate(contract.pause_reasons):
        here: FieldPath = ("pause_reasons", index)
        if not reason.clocks:
            yield Issue("BTN401", f"pause reason {reason.id} names no clock", here)
        if not reason.invoked_by or not reason.evidence:
            yield Issue(
                "BTN402",
                f"pause reason {reason.id}: who may invoke it and what evidence "
                "is required must both be said",
                here,
            )
        for p_index, party in enumerate(reason.invoked_by):
            yield from _ref_party(contract, party, (*here, "invoked_by", p_index))
        yield from _ref_party(contract, reason.confirmed_by, (*here, "confirmed_by"))


def check_windows(contract: Contract) -> Iterator[Issue]:
    object_ids = {o.id for o in contract.objects}
    for index, window in enumerate(contract.maintenance_windows):
        here: FieldPath = ("maintenance_windows", index)
        owner = f"window {window.id}"
        yield from _unknown_in(
            "BTN403", owner, "object", window.objects, known=object_ids, at=(*here, "objects")
        )
        yield from _unknown_in(
            "BTN403", owner, "group", window.groups, known=contract.groups, at=(*here, "groups")
        )
        if window.approved_by is None:
            yield Issue("BTN405", f"window {window.id} has no approver", here)
        else:
            yield from _ref_contact(contract, window.approved_by, (*here, "approved_by"))
    for index, rule in enumerate(contract.alert_rules):
        if contract.object(rule.object) is None:
            yield Issue(
                "BTN404",
                f"alert rule names unknown object {rule.object!r}",
                ("alert_rules", index, "object"),
                rule.object,
            )


def check_escalation(contract: Contract) -> Iterator[Issue]:
    if len({lvl.level for lvl in contract.escalation}) < 2:
        yield Issue("BTN406", "escalation has no level beyond first line", ("escalation",))
    for index, level in enumerate(contract.escalation):
        here: FieldPath = ("escalation", index)
        if not level.contacts or not (level.at or level.triggers):
            yield Issue(
                "BTN408",
                f"escalation level {level.level} needs contacts and thresholds or triggers",
                here,
            )
        for c_index, ref in enumerate(level.contacts):
            yield from _ref_contact(contract, ref, (*here, "contacts", c_index))
        for c_index, ref in enumerate(level.emergency_approvers):
            yield from _ref_contact(contract, ref, (*here, "emergency_approvers", c_index))
    if contract.escalation and not any(lvl.emergency_approvers for lvl in contract.escalation):
        yield Issue("BTN407", "no escalation level names an emergency approver", ("escalation",))


def check_scope(contract: Contract) -> Iterator[Issue]:
    if not contract.exclusions:
        yield Issue("BTN502", "no exclusions: say what is not covered", ("exclusions",))


CHECKS: tuple[Check, ...] = (
    check_unique_ids,
    check_party_ids,
    check_parties,
    check_layers,
    check_object_references,
    check_object_completeness,
    check_dependencies,
    check_cover,
    check_sla_policy,
    check_sla_targets,
    check_sla_coverage,
    check_update_cadence,
    check_access_rules,
    check_pauses,
    check_windows,
    check_escalation,
    check_scope,
)
