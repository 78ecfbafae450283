"""Baton's events: one envelope, versioned typed payloads, step-by-step upcasting.

The envelope follows CloudEvents' attribute names (``id``, ``source``, ``type``, ``time``,
``subject``, ``specversion``) in structured mode: the whole event is the JSON body, and the Kafka
message key is the entity's partition key (the incident id for incident events). ``dataversion``
is the schema version of ``data``; readers upgrade old versions with the registered upcasters
before validating, so a rolling upgrade never breaks a consumer.

The payloads are grouped by topic in this package; every name is importable from
``shared.events``.
"""

from __future__ import annotations

from shared.events.assignments import (
    AccessProcedure as AccessProcedure,
)
from shared.events.assignments import (
    AssignmentEscalatedV1 as AssignmentEscalatedV1,
)
from shared.events.assignments import (
    AssignmentEscalatedV2 as AssignmentEscalatedV2,
)
from shared.events.assignments import (
    AssignmentEscalatedV3 as AssignmentEscalatedV3,
)
from shared.events.assignments import (
    AssignmentIssuedV1 as AssignmentIssuedV1,
)
from shared.events.assignments import (
    AssignmentIssuedV2 as AssignmentIssuedV2,
)
from shared.events.assignments import (
    AssignmentIssuedV3 as AssignmentIssuedV3,
)
from shared.events.assignments import (
    CheckClosedV1 as CheckClosedV1,
)
from shared.events.assignments import (
    CheckOpenedV1 as CheckOpenedV1,
)
from shared.events.assignments import (
    CheckOpenedV2 as CheckOpenedV2,
)
from shared.events.assignments import (
    Deadlines as Deadlines,
)
from shared.events.assignments import (
    DutyContact as DutyContact,
)
from shared.events.assignments import (
    EscalationReason as EscalationReason,
)
from shared.events.assignments import (
    EscalationReasonV1 as EscalationReasonV1,
)
from shared.events.assignments import (
    HandoverV1 as HandoverV1,
)
from shared.events.assignments import (
    HandoverV2 as HandoverV2,
)
from shared.events.assignments import (
    LocalInstant as LocalInstant,
)
from shared.events.assignments import (
    LocalTimes as LocalTimes,
)
from shared.events.assignments import (
    NotificationOutcomeV1 as NotificationOutcomeV1,
)
from shared.events.assignments import (
    VendorCaseOpenedV1 as VendorCaseOpenedV1,
)
from shared.events.assignments import (
    VendorCaseOpenedV2 as VendorCaseOpenedV2,
)
from shared.events.base import (
    NAMESPACE as NAMESPACE,
)
from shared.events.base import (
    ActionKind as ActionKind,
)
from shared.events.base import (
    ActionKindV1 as ActionKindV1,
)
from shared.events.base import (
    Actor as Actor,
)
from shared.events.base import (
    AssignmentRole as AssignmentRole,
)
from shared.events.base import (
    Category as Category,
)
from shared.events.base import (
    ClockKind as ClockKind,
)
from shared.events.base import (
    ClockState as ClockState,
)
from shared.events.base import (
    Layer as Layer,
)
from shared.events.base import (
    Model as Model,
)
from shared.events.base import (
    Role as Role,
)
from shared.events.base import (
    stable_id as stable_id,
)
from shared.events.commands import (
    AccessActionV1 as AccessActionV1,
)
from shared.events.commands import (
    AccessStatus as AccessStatus,
)
from shared.events.commands import (
    AccessStep as AccessStep,
)
from shared.events.commands import (
    PartyActionV1 as PartyActionV1,
)
from shared.events.commands import (
    PartyActionV2 as PartyActionV2,
)
from shared.events.commands import (
    PauseAnswerV1 as PauseAnswerV1,
)
from shared.events.commands import (
    PauseVerdict as PauseVerdict,
)
from shared.events.envelope import (
    CURRENT_VERSION as CURRENT_VERSION,
)
from shared.events.envelope import (
    EARLIER as EARLIER,
)
from shared.events.envelope import (
    EVENT_TYPE as EVENT_TYPE,
)
from shared.events.envelope import (
    EXTENDED as EXTENDED,
)
from shared.events.envelope import (
    PAYLOADS as PAYLOADS,
)
from shared.events.envelope import (
    UPCASTERS as UPCASTERS,
)
from shared.events.envelope import (
    Envelope as Envelope,
)
from shared.events.envelope import (
    EventType as EventType,
)
from shared.events.envelope import (
    UnknownEventType as UnknownEventType,
)
from shared.events.envelope import (
    Upcaster as Upcaster,
)
from shared.events.envelope import (
    make_event as make_event,
)
from shared.events.envelope import (
    parse_event as parse_event,
)
from shared.events.envelope import (
    upcast_action_claim_unknown as upcast_action_claim_unknown,
)
from shared.events.envelope import (
    upcast_assignment_issued_v1_v2 as upcast_assignment_issued_v1_v2,
)
from shared.events.envelope import (
    upcast_assignment_issued_v2_v3 as upcast_assignment_issued_v2_v3,
)
from shared.events.envelope import (
    upcast_check_opened_v1_v2 as upcast_check_opened_v1_v2,
)
from shared.events.envelope import (
    upcast_escalation_update_added as upcast_escalation_update_added,
)
from shared.events.envelope import (
    upcast_follows_nothing as upcast_follows_nothing,
)
from shared.events.envelope import (
    upcast_local_unknown as upcast_local_unknown,
)
from shared.events.envelope import (
    upcast_problem_per_object as upcast_problem_per_object,
)
from shared.events.envelope import (
    upcast_recovery_unknown as upcast_recovery_unknown,
)
from shared.events.envelope import (
    upcast_update_added as upcast_update_added,
)
from shared.events.incidents import (
    AccessRefusedV1 as AccessRefusedV1,
)
from shared.events.incidents import (
    AccessRequestV1 as AccessRequestV1,
)
from shared.events.incidents import (
    Alert as Alert,
)
from shared.events.incidents import (
    AlertAttachedV1 as AlertAttachedV1,
)
from shared.events.incidents import (
    AlertCorrelatedV1 as AlertCorrelatedV1,
)
from shared.events.incidents import (
    AlertReceivedV1 as AlertReceivedV1,
)
from shared.events.incidents import (
    AlertResolvedV1 as AlertResolvedV1,
)
from shared.events.incidents import (
    AlertResolvedV2 as AlertResolvedV2,
)
from shared.events.incidents import (
    IncidentActionAcceptedV1 as IncidentActionAcceptedV1,
)
from shared.events.incidents import (
    IncidentActionAcceptedV2 as IncidentActionAcceptedV2,
)
from shared.events.incidents import (
    IncidentActionAcceptedV3 as IncidentActionAcceptedV3,
)
from shared.events.incidents import (
    IncidentActionRefusedV1 as IncidentActionRefusedV1,
)
from shared.events.incidents import (
    IncidentActionRefusedV2 as IncidentActionRefusedV2,
)
from shared.events.incidents import (
    IncidentActionRefusedV3 as IncidentActionRefusedV3,
)
from shared.events.incidents import (
    IncidentClosedV1 as IncidentClosedV1,
)
from shared.events.incidents import (
    IncidentOpenedV1 as IncidentOpenedV1,
)
from shared.events.incidents import (
    IncidentOpenedV2 as IncidentOpenedV2,
)
from shared.events.incidents import (
    IncidentReclassifiedV1 as IncidentReclassifiedV1,
)
from shared.events.incidents import (
    IncidentStatus as IncidentStatus,
)
from shared.events.incidents import (
    OriginMovedV1 as OriginMovedV1,
)
from shared.events.incidents import (
    PauseAnsweredV1 as PauseAnsweredV1,
)
from shared.events.incidents import (
    PauseAnswerRefusedV1 as PauseAnswerRefusedV1,
)
from shared.events.incidents import (
    SourceAcknowledgedV1 as SourceAcknowledgedV1,
)
from shared.events.records import (
    ChangeRecordedV1 as ChangeRecordedV1,
)
from shared.events.records import (
    CheckinPingV1 as CheckinPingV1,
)
from shared.events.records import (
    ContractPublishedV1 as ContractPublishedV1,
)
from shared.events.records import (
    DeadLetterV1 as DeadLetterV1,
)
from shared.events.records import (
    ProblemClosedV1 as ProblemClosedV1,
)
from shared.events.records import (
    ProblemCloseRefusedV1 as ProblemCloseRefusedV1,
)
from shared.events.records import (
    ProblemCloseRequestedV1 as ProblemCloseRequestedV1,
)
from shared.events.records import (
    ProblemLinkedV1 as ProblemLinkedV1,
)
from shared.events.records import (
    ProblemOpenedV1 as ProblemOpenedV1,
)
from shared.events.records import (
    ProblemOpenedV2 as ProblemOpenedV2,
)
from shared.events.sla import (
    SlaBreachedV1 as SlaBreachedV1,
)
from shared.events.sla import (
    SlaClockPausedV1 as SlaClockPausedV1,
)
from shared.events.sla import (
    SlaClockRecomputedV1 as SlaClockRecomputedV1,
)
from shared.events.sla import (
    SlaClockResumedV1 as SlaClockResumedV1,
)
from shared.events.sla import (
    SlaClockStartedV1 as SlaClockStartedV1,
)
from shared.events.sla import (
    SlaClockStoppedV1 as SlaClockStoppedV1,
)
from shared.events.sla import (
    SlaOverdueV1 as SlaOverdueV1,
)
from shared.events.sla import (
    SlaWarningV1 as SlaWarningV1,
)
from shared.events.sla import (
    UpdateDueV1 as UpdateDueV1,
)
from shared.events.sla import (
    UpdateOverdueV1 as UpdateOverdueV1,
)
