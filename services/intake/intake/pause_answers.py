"""The customer confirms or disputes a pause (ADR 50): the contract's pause reasons say which
party confirms each (``confirmed_by``); until it answers, reporting shows the pause as
unconfirmed and the monthly report counts unconfirmed and disputed pause time apart.

Intake checks who answers — the reason's ``confirmed_by`` party, for a reason of the contract
on a clock it pauses, a dispute with its reason in ``note`` — and records the answer
(``baton.incident.pause_answered``); which pause it names (clock, reason, ``paused_at``, as
sla-clock published it) reporting pairs. Pure, like every decision of intake.
"""

from __future__ import annotations

from datetime import datetime

from intake.actions import pause_reason
from intake.incidents import Answered, IncidentState, Refused, heard, recorded
from shared.contract.view import ContractView
from shared.events import (
    Envelope,
    PauseAnsweredV1,
    PauseAnswerRefusedV1,
    PauseAnswerV1,
    PauseVerdict,
)


def check(answer: PauseAnswerV1, view: ContractView) -> None:
    """``Refused`` unless ``answer`` is the confirming party's, for a reason and clock of the
    contract, a dispute with its reason."""
    reason = pause_reason(view, answer.pause_reason)
    if reason.confirmed_by is None:
        raise Refused(f"pause_reason: nobody confirms {reason.id} pauses in this contract")
    if answer.party != reason.confirmed_by:
        raise Refused(
            f"party: {reason.id} pauses are confirmed by {reason.confirmed_by}, not {answer.party}",
            forbidden=True,
        )
    if answer.clock not in reason.clocks:
        raise Refused(f"clock: {reason.id} does not pause the {answer.clock} clock")
    if answer.verdict == PauseVerdict.DISPUTE and not answer.note.strip():
        raise Refused("note: a dispute records why")


def apply_pause_answer(
    command: Envelope,
    incident: IncidentState,
    view: ContractView,
    now: datetime,
    accepted_at: datetime | None = None,
) -> Answered:
    """Record the answer, or its refusal; the incident's state is unchanged."""
    answer = command.data
    assert isinstance(answer, PauseAnswerV1)
    when = accepted_at or now
    try:
        check(answer, view)
    except Refused as refusal:
        refused = PauseAnswerRefusedV1(
            **heard(command, when), verdict=answer.verdict, reason=refusal.reason
        )
        return incident, [recorded(refused, "refused", command, incident, now)], refusal.answer
    # the answer as the party gave it, with when intake took it and which command it was
    answered = PauseAnsweredV1(**answer.model_dump(), at=when, command_id=command.id)
    return incident, [recorded(answered, "pause-answered", command, incident, now)], (202, "")
