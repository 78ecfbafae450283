"""Escalation as one contract version answers it: the thresholds each clock reports, the
fraction of the response target after which backups are called, and the levels in order."""

from __future__ import annotations

from shared.contract.model import Contract, EscalationLevel
from shared.events import ClockKind

BREACH = 100
DEFAULT_ACK_FRACTION = 0.5
"""Backup contacts are called when this fraction of the response target passed without an
acknowledgement, unless an escalation level names an earlier non-zero response threshold."""


class Escalation:
    """The warning and escalation thresholds, the acknowledgement fraction and the levels."""

    def __init__(self, contract: Contract) -> None:
        self._contract = contract
        self.thresholds: dict[ClockKind, tuple[int, ...]] = {
            clock: _percents(
                [
                    *contract.sla.warnings,
                    *(lv.at[clock] for lv in contract.escalation if clock in lv.at),
                ]
            )
            for clock in ClockKind
        }
        """Per clock: the warning fractions and the escalation levels' fractions of that clock
        (so a level at 80 % hears of 80 %, not only of the breach, and a level at 150 % of
        150 %), in whole percent; the breach (100) is always a threshold and not listed."""
        fractions = [
            lv.at[ClockKind.RESPONSE]
            for lv in contract.escalation
            if lv.at.get(ClockKind.RESPONSE, 0) > 0
        ]
        self.ack_fraction = min(fractions, default=DEFAULT_ACK_FRACTION)
        self._levels = sorted(contract.escalation, key=lambda lv: lv.level)

    @property
    def levels(self) -> list[EscalationLevel]:
        return list(self._levels)


def _percents(fractions: list[float]) -> tuple[int, ...]:
    """Fractions of a target as sorted whole percents above 0, the breach (100) left out: the
    warnings below it, and the escalation levels past the target above it."""
    return tuple(sorted({p for p in (round(f * 100) for f in fractions) if 0 < p != BREACH}))
