"""The contract model: everything the seed says a 24/7 support contract must name.

The model is the *schema*: types, required fields, enumerations. It deliberately does not check
cross-references (unknown parties, cycles, a layer with two primaries): those are lint rules
(``shared.contract.lint``) so that one broken reference yields a precise finding with a code,
file and line instead of hiding every other finding behind one validation error.
``load_contract`` runs both and refuses a contract with errors, so services only ever see a
contract whose references resolve.

``Contract`` answers schema-level look-ups only (an object, a party's contact, a calendar by id,
a target row); every question about an incident — its period, deadlines, who is on duty, which
window holds it — goes to the version's ``ContractView`` (``shared.contract.view``, ADR 8).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import orjson
from croniter import croniter
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from shared.calendar import (
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    CalendarSpec,
    Weekday,
    holidays_data_version,
)
from shared.contract.matching import Match, Matching, check_matchers, contract_matching
from shared.contract.model_validators import (
    business_day_length,
    business_targets,
    cached_calendar,
    format_target,
    layers_from_mapping,
    parse_duration,
    sla_from_list,
    time_of_day,
    weekly_covers,
    weekly_occurrences,
)
from shared.contract.terms import (
    ALL_PERIODS,
    CORE_LAYERS,
    CRITICALITIES,
    SCHEDULED_KINDS,
    VERSIONED_LAYERS,
    ChannelKind,
    ContractError,
    Criticality,
    Environment,
    ObjectKind,
    PartyKind,
    Period,
    classify,
)
from shared.events import Category, ClockKind, Layer
from shared.instants import TimeZone

__all__ = [  # the vocabulary lives in shared.contract.terms; re-exported for the model's callers
    "ALL_PERIODS",
    "CORE_LAYERS",
    "CRITICALITIES",
    "SCHEDULED_KINDS",
    "VERSIONED_LAYERS",
    "ChannelKind",
    "ContractError",
    "Criticality",
    "Environment",
    "ObjectKind",
    "PartyKind",
    "Period",
    "classify",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
ContactRef = Annotated[str, Field(pattern=r"^[^/\s]+/[^/\s]+$")]
"""``party/contact``: a named contact of a party, e.g. ``customer/it-head``."""


TimeOfDay = Annotated[time, BeforeValidator(time_of_day)]
Matchers = Annotated[list[str], AfterValidator(check_matchers)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- parties


class Contact(_Strict):
    name: str
    role: str = ""
    channels: dict[ChannelKind, str] = Field(default_factory=dict)
    hours: str | None = Field(
        None,
        description="a calendar id: when this contact answers (a service desk's own hours); "
        "else when a duty shift of its party names it",
    )

    @model_serializer(mode="wrap")
    def _unwritten_hours_left_out(self, handler: SerializerFunctionWrapHandler) -> object:
        """Contracts that give no contact hours hash as before the field existed."""
        dumped = handler(self)
        if isinstance(dumped, dict) and dumped.get("hours") is None:
            dumped.pop("hours", None)
        return dumped

    def reach(self) -> str:
        """One line with every channel, for drills and tables."""
        ways = ", ".join(f"{kind.value} {address}" for kind, address in self.channels.items())
        return f"{self.name} ({ways})" if ways else self.name


class DutyShift(_Strict):
    """While ``calendar`` is open, ``contact`` answers for the party (first open shift wins)."""

    calendar: str
    contact: str = Field(description="a contact id of the same party")
    note: str = ""


class VendorHandling(_Strict):
    """Who deals with this vendor: opens cases, collects logs, corresponds, decides fixes."""

    opens_cases: str = Field(description="party id")
    collects_logs: str = Field(description="party id")
    correspondence: str = Field(description="party id")
    decides_fixes: str = Field(description="party id")
    support_contract: str = ""


class Party(_Strict):
    name: str
    kind: PartyKind
    contact: str = Field(description="the party's intake channel, where assignments go")
    contacts: dict[str, Contact] = Field(default_factory=dict)
    duty: list[DutyShift] = Field(
        default_factory=list, description="who answers when; the first open shift wins"
    )
    backup_contacts: list[str] = Field(default_factory=list, description="contact ids")
    responsible_for: list[str] = Field(default_factory=list)
    not_responsible_for: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list, description="for vendors")
    vendor_handling: VendorHandling | None = None


class LayerAssignment(_Strict):
    """One layer and its one primary party (two entries for a layer = two primaries: lint)."""

    layer: Layer
    primary: str = Field(description="party id")
    boundary: str = Field("", description="where the layer's responsibility begins and ends")


# --------------------------------------------------------------------------- objects


class Location(_Strict):
    """A site. Its ``timezone`` and ``holidays_country`` are what the customer knows of it;
    the calendar that classifies day and night there is ``period_calendar`` (else the SLA's),
    and lint refuses a site whose written zone or holidays that calendar does not keep
    (BTN308, ADR 40): the contract never runs a site on another site's clock unnoticed."""

    name: str
    kind: Literal["head_office", "branch", "datacenter", "cloud", "warehouse", "other"] = "other"
    address: str = ""
    timezone: TimeZone | None = Field(None, description="the site's IANA time zone")
    holidays_country: str | None = Field(
        None, description="the site's public holidays (ISO 3166-1 alpha-2), as in calendars"
    )
    period_calendar: str | None = Field(
        None,
        description="a calendar id: classifies day/night/weekend/holiday for the objects here "
        "(and shows their times in its zone); the SLA's period_calendar if unset",
    )

    @field_validator("holidays_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None:
            CalendarSpec(id="site", kind="24x7", holidays_country=value)  # the same check
        return value

    @model_serializer(mode="wrap")
    def _unwritten_country_left_out(self, handler: SerializerFunctionWrapHandler) -> object:
        """A contract that does not name a site's holidays hashes as it did before the field
        existed (``contract_hash`` dumps the model)."""
        dumped = handler(self)
        if isinstance(dumped, dict) and dumped.get("holidays_country") is None:
            dumped.pop("holidays_country", None)
        return dumped


class AccessRule(_Strict):
    """How a support engineer gets to an object (the seed's "order of access")."""

    mode: Literal["remote", "on_site", "remote_or_on_site"]
    issued_by: ContactRef
    lead_time: Duration
    after_hours_approval: bool = Field(
        description="whether work outside business hours needs a separate approval"
    )
    approver: ContactRef | None = None
    emergency: str = Field("", description="how emergency access to a critical node is granted")
    confirms_completion: ContactRef | None = None


class Schedule(_Strict):
    """When a scheduled exchange, task or backup duty is expected to run (watched by check-ins:
    a run missing at expected time + grace in ``timezone`` opens an incident)."""

    cron: str = Field(pattern=r"^\S+ \S+ \S+ \S+ \S+$", description="five-field cron expression")
    timezone: TimeZone = "UTC"
    expected_duration: Duration | None = None
    description: str = ""
    grace: Duration | None = Field(None, description="how late a run may report; default 15m")
    timeout: Duration | None = Field(
        None,
        description="a started run that has not finished by then failed; default: "
        "expected_duration",
    )
    skip_holidays: str | None = Field(
        None, description="a calendar id: no run is expected on its public and contract holidays"
    )
    key: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{8,128}$", description="the check-in key; default derived"
    )

    @field_validator("cron")
    @classmethod
    def _readable_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value


class BackupDuty(_Strict):
    made_by: str = Field(description="party id")
    checked_by: str | None = Field(None, description="party id")
    test_restore_by: str | None = Field(None, description="party id")
    test_restore_every: Duration | None = None
    schedule: str = ""
    copies: Schedule | None = Field(None, description="when copies are expected (check-ins)")
    check: Schedule | None = Field(None, description="when the copies' check is expected")


class SupportObject(_Strict):
    id: str = Field(min_length=1)
    name: str
    kind: ObjectKind
    role: str = ""
    location: str | None = None
    business_unit: str = ""
    product: str = ""
    version: str | None = None
    edition: str | None = None
    environment: Environment = Environment.PRODUCTION
    layer: Layer
    criticality: Criticality
    calendar: str = Field("24x7", description="support hours: a calendar id")
    owner: ContactRef | None = Field(None, description="customer-side owner")
    executor: str | None = Field(None, description="party that does the work")
    depends_on: list[str] = Field(default_factory=list)
    access: str | None = Field(None, description="an access rule id")
    backup: BackupDuty | None = None
    schedule: Schedule | None = None
    vendor: str | None = Field(None, description="vendor party id")
    match: dict[str, str] = Field(
        default_factory=dict, description="alert labels that identify this object"
    )
    matchers: Matchers = Field(
        default_factory=list,
        description='Alertmanager matchers that identify this object, e.g. alertname=~"Pg.*"',
    )
    notes: str = ""


class Group(_Strict):
    name: str
    objects: list[str]


class AlertRule(_Strict):
    """Monitoring labels and/or host names that identify an object."""

    object: str
    labels: dict[str, str] = Field(default_factory=dict)
    matchers: Matchers = Field(default_factory=list, description="Alertmanager matchers")
    hosts: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _says_something(self) -> AlertRule:
        if not self.labels and not self.hosts and not self.matchers:
            raise ValueError("an alert rule needs labels, matchers or hosts")
        return self


# --------------------------------------------------------------------------- SLA and policy


class SlaTarget(_Strict):
    """Response and recovery for one category × priority in the listed periods."""

    category: Category
    priority: str
    response: Duration
    recovery: Duration
    periods: list[Period] = Field(default_factory=lambda: list(ALL_PERIODS))
    calendar: str | None = Field(
        None, description="measure under this calendar instead of the object's"
    )


UPDATE_EVERY: dict[str, timedelta] = {"P1": timedelta(minutes=30), "P2": timedelta(hours=2)}
"""Baton's default update cadence for the priorities most contracts name (ADR 47)."""


class SlaPolicy(_Strict):
    """``period_calendar`` is the business-hours calendar that classifies instants: open = day;
    a public/contract holiday = holiday; another closed day = weekend; the rest = night."""

    period_calendar: str | None = None
    targets: list[SlaTarget] = Field(default_factory=list)
    warnings: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.75], description="fractions of a target that raise a warning"
    )
    clock_start: Literal["first_alert", "registered"] = Field(
        "first_alert",
        description="retroactive start: clocks start at the first alert, not at registration",
    )
    max_backdate: Duration = Field(
        timedelta(hours=1), description="how far before registration a clock may start"
    )
    update_every: dict[str, Duration] = Field(
        default_factory=dict,
        description="per priority: how often the coordinator updates the customer while an"
        " incident is open; a priority not named takes Baton's default (UPDATE_EVERY)",
    )
    update_remind_before: Duration = Field(
        timedelta(minutes=10),
        description="how long before an update is due the coordinator is reminded",
    )

    def update_cadence(self, priority: str) -> timedelta | None:
        """How often the customer hears of an open incident of ``priority`` (None: no cadence)."""
        return self.update_every.get(priority, UPDATE_EVERY.get(priority))

    outside_perimeter: Literal["matrix", "none"] = Field(
        "matrix",
        description="the SLA of an incident on no object of the contract: matrix = the"
        " matrix's critical row for its category, round the clock (or on the target's own"
        " calendar); none = no clocks, the coordinator triages it without deadlines",
    )
    priority_follows_worst: bool = Field(
        True,
        description="an alert joining an incident raises its priority to the matrix's for that"
        " alert's category and object when more urgent (an outage joining a degradation);"
        " never lowers it",
    )


class PauseReason(_Strict):
    id: str
    text: str
    clocks: list[ClockKind] = Field(default_factory=list)
    invoked_by: list[str] = Field(default_factory=list, description="party ids")
    confirmed_by: str | None = Field(None, description="party id")
    evidence: list[str] = Field(default_factory=list)


class WeeklySlot(_Strict):
    days: list[Weekday] = Field(min_length=1)
    start: TimeOfDay
    duration: Duration
    timezone: TimeZone = "UTC"


class MaintenanceWindow(_Strict):
    """Recurring (``weekly``) or one-off (``start``/``end``), for objects and/or groups."""

    id: str
    description: str = ""
    objects: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    weekly: WeeklySlot | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    approved_by: ContactRef | None = None
    excludes_sla: bool = Field(
        False, description="time inside the window does not count on the objects' SLA clocks"
    )

    @model_validator(mode="after")
    def _one_shape(self) -> MaintenanceWindow:
        one_off = self.start is not None or self.end is not None
        if (self.weekly is None) == (not one_off):
            raise ValueError("give either weekly, or start and end")
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start before end")
        return self

    def occurrences(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The window's intervals that overlap ``[start, end)``, in time order."""
        if self.start is not None and self.end is not None:
            return [(self.start, self.end)] if self.start < end and start < self.end else []
        return weekly_occurrences(self.weekly, start, end) if self.weekly else []

    def covers(self, at: datetime) -> bool:
        if self.start is not None and self.end is not None:
            return self.start <= at < self.end
        return weekly_covers(self.weekly, at) if self.weekly else False


class EscalationTrigger(StrEnum):
    """Events beyond the clocks' thresholds that an escalation level may name (ADR 54)."""

    UPDATE_OVERDUE = "update_overdue"
    """The coordinator's update to the customer was not given by its due instant (ADR 47)."""


class EscalationLevel(_Strict):
    """Fires when the given fraction of a clock's target has passed (0 = at once; 1 = at the
    breach; above 1 = that far overdue, e.g. 1.5 when half the target again has passed), once
    per incident; and on each event it names in ``triggers`` (ADR 54)."""

    level: int = Field(ge=1)
    name: str
    at: dict[ClockKind, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    triggers: list[EscalationTrigger] = Field(
        default_factory=list,
        description="events that fire this level each time they happen: update_overdue (the"
        " customer's update from the coordinator is late)",
    )
    contacts: list[ContactRef] = Field(default_factory=list)
    emergency_approvers: list[ContactRef] = Field(default_factory=list)


class OpenPoint(_Strict):
    """A field still to be agreed: lint reports what it would demand at or below that field as
    this open point (one warning, BTN601, listing them), not as errors. Integrity rules (the
    references services depend on) cannot be left open."""

    field: str = Field(
        min_length=1,
        description="the field, dotted: priority_matrix, objects.pg-acc, sla.targets, escalation",
    )
    note: str = ""
    owner: ContactRef | None = Field(None, description="who brings the answer")


class Exclusion(_Strict):
    id: str
    text: str


# --------------------------------------------------------------------------- the contract


class ProblemPolicy(_Strict):
    """When recurring incidents become a problem record (ADR 48): ``incidents`` on the same
    origin (``group_by``: an object, or a group of objects; ADR 55) within ``within`` open one,
    owned by the origin layer's primary, its fix due ``fix_due`` after it opened. Baton's
    defaults: 3 incidents on one object within 30 days, fix due in 14."""

    incidents: int = Field(3, ge=2)
    within: Duration = timedelta(days=30)
    fix_due: Duration = timedelta(days=14)
    group_by: Literal["object", "group"] = Field(
        "object",
        description="what one origin is: an object (Baton's default), or a group of the"
        " contract's groups (its objects count together; an object in no group counts alone,"
        " one in several in the first the contract lists; ADR 55)",
    )


class Contract(_Strict):
    id: str
    version: str
    title: str = ""
    coordinator: str = Field(description="party that owns every incident until closure")
    first_line: str | None = Field(
        None,
        description="who accepts tickets: a party id, or a party's contact (party/contact, "
        "e.g. customer/service-desk) answering in its own hours; the coordinator if unset",
    )
    environments: list[Environment] = Field(
        default_factory=lambda: [Environment.PRODUCTION], description="environments in scope"
    )
    exclusions: list[Exclusion] = Field(default_factory=list)
    locations: dict[str, Location] = Field(default_factory=dict)
    parties: dict[str, Party]
    layers: Annotated[list[LayerAssignment], BeforeValidator(layers_from_mapping)]
    calendars: list[CalendarSpec] = Field(default_factory=list)
    objects: list[SupportObject]
    groups: dict[str, Group] = Field(default_factory=dict)
    access_rules: dict[str, AccessRule] = Field(default_factory=dict)
    priority_matrix: dict[Criticality, dict[Category, str]]
    sla: Annotated[SlaPolicy, BeforeValidator(sla_from_list)] = Field(default_factory=SlaPolicy)
    pause_reasons: list[PauseReason] = Field(default_factory=list)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    problems: ProblemPolicy = Field(
        default_factory=ProblemPolicy,
        description="when recurring incidents on one origin open a problem record (ADR 48)",
    )
    alert_rules: list[AlertRule] = Field(default_factory=list)
    open_points: list[OpenPoint] = Field(
        default_factory=list, description="fields still to be agreed (to be agreed markers)"
    )

    @model_validator(mode="before")
    @classmethod
    def _business_units(cls, data: object) -> object:
        return business_targets(data)

    @field_validator("calendars")
    @classmethod
    def _no_builtin_shadow(cls, value: list[CalendarSpec]) -> list[CalendarSpec]:
        for spec in value:
            if spec.id == TWENTY_FOUR_SEVEN.id and spec.kind != "24x7":
                raise ValueError("calendar id '24x7' is reserved for an always-open calendar")
        return value

    # -- lookups -------------------------------------------------------------------------------

    def object(self, object_id: str) -> SupportObject | None:
        return self._objects_by_id.get(object_id)

    @functools.cached_property
    def _objects_by_id(self) -> dict[str, SupportObject]:
        """Asked for every alert (issue 28); the first object of an id wins, as the search
        did (lint refuses a contract with two)."""
        by_id: dict[str, SupportObject] = {}
        for o in self.objects:
            by_id.setdefault(o.id, o)
        return by_id

    def primaries(self, layer: Layer) -> list[str]:
        """Every party named primary for ``layer`` (a valid contract has exactly one)."""
        return [a.primary for a in self.layers if a.layer == layer]

    def primary_party(self, layer: Layer) -> str:
        """The one primary party id of ``layer``; ``KeyError`` if the layer has none."""
        found = self.primaries(layer)
        if not found:
            raise KeyError(f"layer {layer.value!r} has no primary party")
        return found[0]

    @property
    def intake(self) -> str:
        """The party that accepts tickets (first line); the coordinator unless named."""
        return self.first_line_party or self.coordinator

    @property
    def first_line_party(self) -> str | None:
        """The party of ``first_line`` (written as a party or as ``party/contact``)."""
        return self.first_line.partition("/")[0] if self.first_line else None

    def contact(self, ref: str) -> tuple[Party, Contact] | None:
        """Resolve ``party/contact``."""
        party_id, _, contact_id = ref.partition("/")
        party = self.parties.get(party_id)
        if party is None or contact_id not in party.contacts:
            return None
        return party, party.contacts[contact_id]

    def calendar_spec(self, calendar_id: str) -> CalendarSpec | None:
        """A declared calendar, or the built-in always-open ``24x7`` one."""
        found = next((c for c in self.calendars if c.id == calendar_id), None)
        if found is None and calendar_id == TWENTY_FOUR_SEVEN.id:
            return TWENTY_FOUR_SEVEN
        return found

    def target_text(self, value: timedelta, calendar_id: str | None) -> str:
        """A target measured on ``calendar_id`` as the contract writes it (``format_target``)."""
        spec = self.calendar_spec(calendar_id) if calendar_id else None
        return format_target(value, business_day_length(spec) if spec else None)

    def business_calendar(self, calendar_id: str) -> BusinessCalendar:
        spec = self.calendar_spec(calendar_id)
        if spec is None:
            raise KeyError(f"unknown calendar {calendar_id!r}")
        return cached_calendar(spec.model_dump_json())

    def group_members(self, group_id: str) -> list[str]:
        group = self.groups.get(group_id)
        return list(group.objects) if group else []

    # -- questions services ask ----------------------------------------------------------------

    def match_alert(self, labels: dict[str, str]) -> SupportObject | None:
        """The object whose rule all ``labels`` satisfy; the most specific rule wins.

        Rules are each object's ``match`` labels and ``matchers`` (``{"object": id}`` when it
        has neither) and the contract's ``alert_rules``; host labels compare as hosts (port,
        case and domain aside). See ``shared.contract.matching``.
        """
        found = self.explain_match(labels)
        return self.object(found.object_id) if found else None

    def explain_match(self, labels: dict[str, str]) -> Match | None:
        """``match_alert`` with its reason: the winning rule and the others that also held."""
        return self._matching.match(labels)

    @functools.cached_property
    def _matching(self) -> Matching:
        return contract_matching(self)

    def priority(self, criticality: Criticality, category: Category) -> str:
        return self.priority_matrix[criticality][category]

    def sla_target(
        self, category: Category, priority: str, period: Period = Period.DAY
    ) -> SlaTarget | None:
        """The target for ``category`` × ``priority`` in ``period`` (daytime by default)."""
        return next(
            (
                t
                for t in self.sla.targets
                if t.category == category and t.priority == priority and period in t.periods
            ),
            None,
        )

    def is_round_the_clock(self, party_id: str) -> bool:
        """Whether one of the party's duty shifts runs on an always-open calendar."""
        party = self.parties.get(party_id)
        if party is None:
            return False
        for shift in party.duty:
            spec = self.calendar_spec(shift.calendar)
            if spec is not None and spec.kind == "24x7":
                return True
        return False

    @property
    def content_hash(self) -> str:
        return contract_hash(self)


def contract_hash(contract: Contract) -> str:
    """``sha256:<hex>`` of the contract's canonical JSON (sorted keys, normalised values).

    Computed from the validated model, not the files: reformatting, comments or splitting the
    contract over more files leave the hash unchanged; any change of meaning changes it. A
    contract whose calendars take public holidays from the ``holidays`` package also hashes that
    package's version: its data decide deadlines, so a new release is a new contract in force.
    """
    document: dict[str, object] = contract.model_dump(mode="json")
    if any(calendar.holidays_country for calendar in contract.calendars):
        document = {"contract": document, "holidays_data": holidays_data_version()}
    canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def load_contract(path: Path, *, lint: bool = False) -> Contract:
    """Load a contract file or folder; raise ``ContractError`` naming file, line and field.

    Schema errors and integrity errors (unknown references, a layer without exactly one primary,
    dependency cycles) always refuse the contract; with ``lint=True`` every lint error does.
    """
    from shared.contract.load import load_checked

    return load_checked(path, lint=lint)
