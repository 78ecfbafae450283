"""One contract version's answers: the only place the services and the CLI ask contract questions.

``ContractView(contract)`` is an immutable query object per contract version; the shells (a
service's runtime, the CLI commands) take it from ``ContractView.of(contract)``, a cache by
content hash shared by every caller of one process, and hand it to the pure cores, whose
signatures say which version they answer with (ADR 8). It is a thin facade over one part per
concern, each built from the contract (and the parts it asks) and testable alone:

* **matching** — ``match(labels)``: the object an alert lands on and why
  (``shared.contract.matching``);
* **time and policy** (``shared.contract.timing.Timing``) — ``period(at)``,
  ``clock_start(opened_at, first_alert_at)``, ``policy(...)``, ``clock_calendar(...)``,
  ``due(...)``, ``ack_due(...)``, ``pause_clocks(reason)``: the deadlines of an incident, the
  same for the router's assignments, sla-clock's clocks and the drill;
* **maintenance windows** (``shared.contract.windows.Windows``) — ``holding_window(object, at)``
  (intake holds the alert), ``released_at(object, at)`` (when it lets it through),
  ``sla_exclusions(...)`` (time the clocks do not count);
* **the dependency graph** (``shared.contract.graph``) — ``graph`` (related objects, origin,
  scope, partition component), ``chain(object)``, ``checks(object)``;
* **owners, duty and access** (``shared.contract.duty.Duty``) — ``primary_for(layer)`` (the
  layer's primary party, else the coordinator: written here once), ``owners()``,
  ``on_duty(party, at)``, ``desk_on_duty(at)``, ``access(object, at)``;
* **escalation** (``shared.contract.escalation.Escalation``) — ``thresholds``,
  ``ack_fraction``, ``levels``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from shared.calendar import BusinessCalendar, TimeCalendar
from shared.contract.duty import AccessAt, Duty
from shared.contract.escalation import BREACH, DEFAULT_ACK_FRACTION, Escalation
from shared.contract.graph import LAYER_ORDER, ChainStep, CheckPlan, DependencyGraph, Relations
from shared.contract.matching import Match
from shared.contract.model import (
    Contact,
    Contract,
    DutyShift,
    EscalationLevel,
    MaintenanceWindow,
    Period,
    SupportObject,
)
from shared.contract.timing import ROUND_THE_CLOCK, Due, Policy, Timing
from shared.contract.windows import Windows
from shared.events import (
    ActionKind,
    Category,
    ClockKind,
    IncidentActionAcceptedV3,
    Layer,
    OriginMovedV1,
)

__all__ = [
    "BREACH",
    "DEFAULT_ACK_FRACTION",
    "LAYER_ORDER",
    "ROUND_THE_CLOCK",
    "AccessAt",
    "ChainStep",
    "CheckPlan",
    "ContractView",
    "DependencyGraph",
    "Due",
    "Policy",
    "handover_layer",
]

_VIEWS = 16
T = TypeVar("T")


class ContractView:
    """Every answer one contract version gives; immutable, built once per version."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.version = contract.version
        self.content_hash = contract.content_hash
        self._objects = {o.id: o for o in contract.objects}
        self.windows = Windows(contract)
        self.timing = Timing(contract, self.windows)
        self.duty = Duty(contract, self.timing)
        self.relations = Relations(contract, self.duty, self.timing)
        self.escalation = Escalation(contract)
        self.thresholds: dict[ClockKind, tuple[int, ...]] = self.escalation.thresholds
        self.ack_fraction = self.escalation.ack_fraction
        self._remembered: dict[Hashable, Any] = {}

    @staticmethod
    def of(contract: Contract) -> ContractView:
        """The view of ``contract``'s version: one per content hash, shared by all callers.
        For the shells (a service's runtime, the CLI); pure cores take the view as a parameter."""
        return _view(contract)

    def remember(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, computed once for this version under ``key``: for an answer that
        depends on the contract version alone (a policy's escalation contacts, a party's backup
        contacts), which every new incident would otherwise compute again. The answer is
        shared by every later caller, so it must not be changed (frozen models, tuples); the
        key names the question and its arguments, and its arguments must be the contract's
        own ids (bounded), never an outside input."""
        found: T
        if key in self._remembered:
            found = self._remembered[key]
        else:
            found = self._remembered[key] = build()
        return found

    # -- objects and matching ------------------------------------------------------------------

    def object(self, object_id: str | None) -> SupportObject | None:
        return self._objects.get(object_id) if object_id else None

    def match(self, labels: dict[str, str]) -> Match | None:
        """The object an alert with ``labels`` lands on, the rule that won and the others that
        also held (Alertmanager matchers; host labels compare as hosts)."""
        return self.contract.explain_match(labels)

    # -- owners, duty, access (Duty) -----------------------------------------------------------

    def owners(self) -> dict[Layer, str]:
        return self.duty.owners()

    @property
    def coordinator(self) -> str:
        return self.duty.coordinator

    def primary_for(self, layer: Layer | None, owners: dict[Layer, str] | None = None) -> str:
        return self.duty.primary_for(layer, owners)

    def owner_of(self, layer: Layer, owners: dict[Layer, str] | None) -> str | None:
        return self.duty.owner_of(layer, owners)

    def on_duty(self, party_id: str, at: datetime) -> tuple[DutyShift, Contact] | None:
        return self.duty.on_duty(party_id, at)

    def desk_on_duty(self, at: datetime) -> Contact | None:
        return self.duty.desk_on_duty(at)

    def access(self, object_id: str, at: datetime) -> AccessAt | None:
        return self.duty.access(object_id, at)

    def approval(self, access: AccessAt) -> str:
        return self.duty.approval(access)

    def reach(self, ref: str) -> str:
        return self.duty.reach(ref)

    # -- time and policy (Timing) --------------------------------------------------------------

    def calendar(self, calendar_id: str) -> BusinessCalendar:
        return self.timing.calendar(calendar_id)

    def local_calendar(self, object_id: str | None) -> BusinessCalendar:
        return self.timing.local_calendar(object_id)

    def local(self, instant: datetime, object_id: str | None) -> str:
        return self.timing.local(instant, object_id)

    def period(self, at: datetime, object_id: str | None = None) -> Period:
        return self.timing.period(at, object_id)

    def clock_start(self, opened_at: datetime, first_alert_at: datetime | None) -> datetime:
        return self.timing.clock_start(opened_at, first_alert_at)

    def priority(self, object_id: str | None, category: Category) -> str:
        return self.timing.priority(object_id, category)

    def urgency(self, priority: str) -> tuple[timedelta, str]:
        return self.timing.urgency(priority)

    def more_urgent(self, priority: str, than: str) -> bool:
        return self.timing.more_urgent(priority, than)

    def policy(
        self, object_id: str | None, category: Category, priority: str, start: datetime
    ) -> dict[ClockKind, Policy] | None:
        return self.timing.policy(object_id, category, priority, start)

    def clock_calendar(self, calendar_id: str, object_id: str | None) -> TimeCalendar:
        return self.timing.clock_calendar(calendar_id, object_id)

    def due(
        self,
        object_id: str | None,
        category: Category,
        priority: str,
        *,
        opened_at: datetime,
        first_alert_at: datetime | None = None,
    ) -> Due | None:
        return self.timing.due(
            object_id, category, priority, opened_at=opened_at, first_alert_at=first_alert_at
        )

    def ack_due(
        self, object_id: str | None, category: Category, priority: str, at: datetime
    ) -> datetime | None:
        """When an unacknowledged assignment given at ``at`` goes to the backup contacts: the
        response target times ``ack_fraction``, on the clock calendar."""
        return self.timing.ack_due(object_id, category, priority, at, self.ack_fraction)

    def pause_clocks(self, reason_id: str | None) -> tuple[ClockKind, ...]:
        return self.timing.pause_clocks(reason_id)

    # -- maintenance windows (Windows) ---------------------------------------------------------

    def maintenance_at(self, object_id: str, at: datetime) -> MaintenanceWindow | None:
        return self.windows.maintenance_at(object_id, at)

    def sla_exclusions(
        self, object_id: str | None, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        return self.windows.sla_exclusions(object_id, start, end)

    def holding_window(self, object_id: str | None, at: datetime) -> MaintenanceWindow | None:
        return self.windows.holding_window(object_id, at)

    def released_at(self, object_id: str | None, at: datetime) -> datetime | None:
        return self.windows.released_at(object_id, at)

    # -- graph and checks (DependencyGraph, Relations) -----------------------------------------

    @functools.cached_property
    def graph(self) -> DependencyGraph:
        return DependencyGraph(self.contract)

    def chain(self, object_id: str) -> list[ChainStep]:
        return self.relations.chain(object_id)

    def checks(self, object_id: str) -> list[CheckPlan]:
        return self.relations.checks(object_id)

    def engaged_at(self, object_id: str, relation: str, at: datetime) -> datetime | None:
        return self.relations.engaged_at(object_id, relation, at)

    def nearest_in_layer(self, object_id: str | None, layer: Layer) -> str | None:
        return self.relations.nearest_in_layer(object_id, layer)

    # -- escalation (Escalation) ---------------------------------------------------------------

    @property
    def levels(self) -> list[EscalationLevel]:
        return self.escalation.levels


def handover_layer(data: object, primary_layer: Layer | None) -> Layer | None:
    """The layer an incident event moves primary ownership to, None if it moves none: the
    probable origin moved to another layer, or a diagnosis found the fault in another layer.
    The router hands over on it and sla-clock labels the clocks' party by it, so both agree."""
    if isinstance(data, OriginMovedV1):
        moved = data.to_layer
    elif (
        isinstance(data, IncidentActionAcceptedV3)
        and data.action == ActionKind.DIAGNOSIS
        and data.fault_found
    ):
        moved = data.layer
    else:
        return None
    return moved if moved is not None and moved != primary_layer else None


_BY_ID: dict[int, tuple[Contract, ContractView]] = {}
_BY_HASH: dict[str, ContractView] = {}


def _view(contract: Contract) -> ContractView:
    """By identity first, then by content hash. Two objects of one version (the file loaded
    twice, or read back from the contract feed) share the view; each keeps its own identity
    entry, which holds the object alive so that its id is not reused while the entry exists."""
    entry = _BY_ID.get(id(contract))
    if entry is not None and entry[0] is contract:
        return entry[1]
    digest = contract.content_hash
    found = _BY_HASH.get(digest)
    if found is None:
        if len(_BY_HASH) >= _VIEWS:
            _BY_HASH.clear()
            _BY_ID.clear()
        found = _BY_HASH[digest] = ContractView(contract)
    if len(_BY_ID) >= 4 * _VIEWS:
        _BY_ID.clear()
    _BY_ID[id(contract)] = (contract, found)
    return found
