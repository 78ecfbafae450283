"""One incident's policy, frozen: what the incident answers to until it is explicitly changed.

After Grafana OnCall's escalation snapshot: when an incident opens, the contract view in force
answers once — owners and coordinator, each clock's target, calendar and thresholds, the
escalation levels with their contacts resolved, the pause reasons and the access rules — and the
incident keeps that answer. It is computed again only on a reclassification, a re-route or
``baton contract apply-open`` (ADR 9, ADR 37). A later contract version changes new incidents,
never an open one by accident.

``incident_policy(view, ...)`` is the one place it is computed; the router keeps it in its
route state and reads escalation from it; sla-clock pins the same version by ``contract_hash``.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from shared.contract.model import AccessRule, Contact, EscalationTrigger, Period
from shared.contract.view import ContractView
from shared.events import Category, ClockKind, DutyContact, Layer

__all__ = ["ClockPolicy", "IncidentPolicy", "LevelPolicy", "duty_contact", "incident_policy"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClockPolicy(_Frozen):
    """One clock as the incident runs it: target of category x priority in the start's period,
    on ``calendar``, with the warning and escalation thresholds in whole percent (100 implied)."""

    target: timedelta
    calendar: str
    period: Period
    thresholds: tuple[int, ...]


class LevelPolicy(_Frozen):
    """One escalation level with its contacts as they were when the policy was taken."""

    level: int
    name: str
    at: dict[ClockKind, float]
    triggers: list[EscalationTrigger] = Field(
        default_factory=list, description="events beyond the clocks that fire it (ADR 54)"
    )
    contacts: list[DutyContact] = Field(default_factory=list)
    emergency_approvers: list[DutyContact] = Field(default_factory=list)


class IncidentPolicy(_Frozen):
    contract_hash: str
    contract_version: str
    category: Category
    priority: str
    owners: dict[Layer, str]
    coordinator: str
    clocks: dict[ClockKind, ClockPolicy] = Field(
        default_factory=dict, description="empty when the SLA matrix has no row for it"
    )
    levels: list[LevelPolicy] = Field(default_factory=list, description="by level number")
    ack_fraction: float
    pause_reasons: dict[str, list[ClockKind]] = Field(
        default_factory=dict, description="allowed pause reason id -> the clocks it pauses"
    )
    access: dict[str, AccessRule] = Field(default_factory=dict, description="rule id -> rule")


def duty_contact(
    party_id: str, contact_id: str, contact: Contact, calendar: str | None = None
) -> DutyContact:
    """A contract contact as the messages name it (``calendar``: the duty calendar open)."""
    return DutyContact(
        party=party_id,
        contact=contact_id,
        name=contact.name,
        role=contact.role,
        channels={kind.value: address for kind, address in contact.channels.items()},
        calendar=calendar,
    )


def _contact(view: ContractView, ref: str) -> DutyContact | None:
    found = view.contract.contact(ref)
    if found is None:
        return None
    party_id, _, contact_id = ref.partition("/")
    return duty_contact(party_id, contact_id, found[1])


def _contacts(view: ContractView, refs: list[str]) -> list[DutyContact]:
    return [c for c in (_contact(view, r) for r in refs) if c is not None]


def incident_policy(
    view: ContractView,
    *,
    object_id: str | None,
    category: Category,
    priority: str,
    opened_at: datetime,
    first_alert_at: datetime | None,
    owners: dict[Layer, str] | None = None,
) -> IncidentPolicy:
    """The policy of an incident on ``object_id`` classified ``category`` x ``priority`` under
    ``view``'s version; ``owners`` keeps the owners frozen before (a reclassification keeps them,
    a re-route passes None to take the version's)."""
    start = view.clock_start(opened_at, first_alert_at)
    policies = view.policy(object_id, category, priority, start) or {}
    contract = view.contract
    return IncidentPolicy(
        contract_hash=view.content_hash,
        contract_version=view.version,
        category=category,
        priority=priority,
        owners=owners if owners is not None else view.owners(),
        coordinator=view.coordinator,
        clocks={
            clock: ClockPolicy(
                target=p.target,
                calendar=p.calendar,
                period=p.period,
                thresholds=view.thresholds[clock],
            )
            for clock, p in policies.items()
        },
        levels=list(view.remember(_levels, functools.partial(_levels, view))),
        ack_fraction=view.ack_fraction,
        pause_reasons={r.id: list(r.clocks) for r in contract.pause_reasons},
        access=dict(contract.access_rules),
    )


def _levels(view: ContractView) -> tuple[LevelPolicy, ...]:
    """The escalation levels with their contacts: the version's alone, taken once per view."""
    return tuple(
        LevelPolicy(
            level=lv.level,
            name=lv.name,
            at=dict(lv.at),
            triggers=list(lv.triggers),
            contacts=_contacts(view, lv.contacts),
            emergency_approvers=_contacts(view, lv.emergency_approvers),
        )
        for lv in view.levels
    )
