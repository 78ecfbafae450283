"""Lint findings and the catalog of rules: each has a stable code, a severity and a fix hint.

Codes never change meaning once released; a retired rule keeps its code unused.
``integrity`` rules are the ones services depend on (references resolve, one primary per layer,
no cycles): ``load_contract`` always refuses a contract that breaks one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

PathPart = str | int
FieldPath = tuple[PathPart, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    severity: Severity
    title: str
    hint: str
    integrity: bool = False


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.code: r for r in rules}


E, W = Severity.ERROR, Severity.WARNING

RULES: dict[str, Rule] = _rules(
    # -- files and schema
    Rule(
        "BTN001",
        E,
        "file cannot be read or parsed as YAML",
        "fix the YAML syntax at the given line; quote values that contain ': ' or '#'",
        True,
    ),
    Rule(
        "BTN002",
        E,
        "value does not match the contract schema",
        "see the expected type in the shared.contract docstring; unknown keys are refused",
        True,
    ),
    Rule(
        "BTN003",
        E,
        "key defined twice (in one file, or in two files of the folder)",
        "keep one definition; split folders by section, not by repeating keys",
        True,
    ),
    Rule(
        "BTN004",
        E,
        "id used twice",
        "give every object, calendar, window, pause reason and rule a unique id",
        True,
    ),
    Rule(
        "BTN005",
        E,
        "reference to something the contract does not define",
        "define it, or correct the spelling of the reference",
        True,
    ),
    # -- parties and layers
    Rule(
        "BTN101",
        E,
        "layer has no primary party",
        "add `- {layer: <layer>, primary: <party>}` under layers:",
        True,
    ),
    Rule(
        "BTN102",
        E,
        "layer has more than one primary party",
        "keep exactly one primary; name the others in the layer's boundary text",
        True,
    ),
    Rule(
        "BTN103",
        E,
        "24/7 party without a backup contact",
        "add backup_contacts: [<contact id>] to the party",
    ),
    Rule(
        "BTN104",
        W,
        "party without a responsibility boundary",
        "fill responsible_for and not_responsible_for (the appendix roles table)",
    ),
    Rule(
        "BTN105",
        E,
        "vendor without vendor handling",
        "add vendor_handling: {opens_cases, collects_logs, correspondence, decides_fixes}",
    ),
    Rule(
        "BTN106",
        E,
        "duty shift or backup names an unknown contact of the party",
        "add the contact under the party's contacts:, or fix the id",
    ),
    Rule(
        "BTN107",
        E,
        "no customer party",
        "add a party of kind customer: approvals, access and confirmation come from it",
    ),
    Rule(
        "BTN108",
        W,
        "first line is a contact without hours",
        "give the contact hours: <calendar id>, or a duty shift of its party",
    ),
    Rule(
        "BTN109",
        E,
        "party id reserved for Baton's own identities",
        "rename the party: a service's name (intake, router, sla-clock, reporting), admin,"
        " operator or baton-* is a Kafka principal, consumer group or reader of Baton's own",
    ),
    # -- objects
    Rule("BTN201", E, "object has no layer", "add layer: hardware|os|dbms|application|..."),
    Rule("BTN202", E, "object has no executor", "add executor: <party id>"),
    Rule("BTN203", E, "object has no customer-side owner", "add owner: <customer party>/<contact>"),
    Rule(
        "BTN204",
        E,
        "dependency on an unknown object",
        "add the object to the perimeter or remove it from depends_on",
        True,
    ),
    Rule("BTN205", E, "dependency cycle", "break the cycle: depends_on must point downwards", True),
    Rule(
        "BTN206",
        E,
        "OS, DBMS or application object without a version",
        "add version: (and edition:) so nobody can say 'we don't support this version'",
    ),
    Rule(
        "BTN207",
        E,
        "critical object without access rules",
        "add access: <rule id> with mode, issuer, lead time and emergency procedure",
    ),
    Rule(
        "BTN208",
        E,
        "backup without a test-restore owner",
        "add backup.test_restore_by and backup.test_restore_every",
    ),
    Rule(
        "BTN209",
        W,
        "scheduled exchange or task without an expected schedule",
        "add schedule: {cron: '...', timezone: ...}",
    ),
    Rule(
        "BTN210",
        E,
        "access rule needs after-hours approval but names no approver",
        "add approver: <party>/<contact>",
    ),
    Rule("BTN211", W, "backup made but nobody checks it", "add backup.checked_by"),
    # -- calendars and SLA
    Rule(
        "BTN301",
        E,
        "critical object without 24/7 cover",
        "give it a 24x7 calendar and make its layer's primary and executor answer 24/7",
    ),
    Rule(
        "BTN302",
        E,
        "critical object without a night, weekend or holiday SLA",
        "add a target for the missing periods (periods: [day, night, weekend, holiday])",
    ),
    Rule("BTN303", E, "priority matrix incomplete", "give every criticality × category a priority"),
    Rule(
        "BTN304",
        E,
        "priority used but no SLA target defines it",
        "add an SLA target for the category and priority",
    ),
    Rule(
        "BTN305",
        E,
        "SLA target's response is longer than its recovery",
        "response must not exceed recovery",
    ),
    Rule(
        "BTN306",
        E,
        "two SLA targets cover the same category, priority and period",
        "keep one target per category × priority × period",
    ),
    Rule(
        "BTN307",
        E,
        "no period calendar: night, weekend and holiday are not distinguished",
        "set sla.period_calendar to the head office's business-hours calendar",
    ),
    Rule(
        "BTN308",
        E,
        "a site's time zone or holidays differ from the calendar that reads its day and night",
        "give the location a period_calendar in its zone (and holidays_country), or correct "
        "the location's timezone / holidays_country",
    ),
    Rule(
        "BTN309",
        W,
        "an object is supported on business hours of another zone than its site's",
        "name a calendar in the site's zone, or keep it if the support really works those hours",
    ),
    Rule(
        "BTN320",
        E,
        "a 24/7 priority without an update cadence: nothing says when the customer hears next",
        "add sla.update_every: {<priority>: 30m} (Baton's defaults cover P1 30m and P2 2h)",
    ),
    # -- pauses, windows, escalation, alert rules
    Rule("BTN401", E, "pause reason names no clock", "add clocks: [response] and/or [recovery]"),
    Rule(
        "BTN402",
        W,
        "pause reason names no party that may invoke it or no evidence",
        "add invoked_by: [<party>] and evidence: [...]",
    ),
    Rule(
        "BTN403",
        E,
        "maintenance window names an unknown object or group",
        "fix the id or add the object to the perimeter",
        True,
    ),
    Rule(
        "BTN404",
        E,
        "alert rule names an unknown object",
        "fix the object id or add the object to the perimeter",
        True,
    ),
    Rule(
        "BTN405",
        E,
        "maintenance window without an approver",
        "add approved_by: <customer party>/<contact>",
    ),
    Rule(
        "BTN406",
        E,
        "escalation has no level beyond first line",
        "add at least a second level with thresholds and contacts",
    ),
    Rule(
        "BTN407",
        W,
        "no escalation level names an emergency approver",
        "name who approves emergency work at night in some level's emergency_approvers",
    ),
    Rule(
        "BTN408",
        E,
        "escalation level without contacts or thresholds",
        "give each level contacts and at: {response|recovery: fraction}",
    ),
    Rule(
        "BTN409",
        E,
        "no pause reasons: the SLA clock can never stop fairly",
        "list the agreed reasons (no access, no approver, power/telecom provider, spare part)",
    ),
    # -- scope
    Rule(
        "BTN501",
        E,
        "environment used but not declared in scope",
        "add it to environments:, or take the object out of the perimeter",
    ),
    Rule(
        "BTN502",
        W,
        "no exclusions listed",
        "list what the contract does not cover (new features, licences, training...)",
    ),
    Rule(
        "BTN503",
        W,
        "critical object not reached by any alert rule",
        "add match: labels or an alert_rules entry so alerts land on it",
    ),
    # -- the deployment (checked when its settings are known: `baton contract lint --senders`)
    Rule(
        "BTN701",
        W,
        "channel kind with no sender in this deployment: its people are reached by hand",
        "configure BATON_NOTIFY_SENDERS for the kind (an Apprise URL template), or accept that"
        " the coordinator's message tells someone to call them",
    ),
    # -- negotiation
    Rule(
        "BTN601",
        W,
        "open point: to be agreed",
        "agree the field with the customer, write it and remove the open_points entry",
    ),
)


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    message: str
    path: FieldPath = ()
    file: Path | None = None
    line: int | None = None
    extra_hint: str = field(default="")

    @property
    def rule(self) -> Rule:
        return RULES[self.code]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def hint(self) -> str:
        return self.extra_hint or self.rule.hint

    @property
    def where(self) -> str:
        place = str(self.file) if self.file else "<contract>"
        return f"{place}:{self.line}" if self.line else place

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "file": str(self.file) if self.file else None,
            "line": self.line,
            "path": format_path(self.path),
            "message": self.message,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        field_part = f" {format_path(self.path)}:" if self.path else ""
        return f"{self.where}: {self.code} {self.severity.value}:{field_part} {self.message}"


def format_path(path: FieldPath) -> str:
    """``("objects", 3, "depends_on", 0)`` -> ``objects[3].depends_on[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
