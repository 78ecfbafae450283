"""Maintenance windows as one contract version answers them: which window covers an object,
the approved window in which intake holds an alert and when it lets it through, and the
intervals the contract excludes from SLA time."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.contract.model import Contract, MaintenanceWindow


class Windows:
    """The contract's maintenance windows with their members (objects and group members)."""

    def __init__(self, contract: Contract) -> None:
        self._contract = contract
        self._excluding = [
            (window, self.members(window))
            for window in contract.maintenance_windows
            if window.excludes_sla and window.approved_by is not None
        ]

    def members(self, window: MaintenanceWindow) -> set[str]:
        members = set(window.objects)
        for group in window.groups:
            members.update(self._contract.group_members(group))
        return members

    def maintenance_at(self, object_id: str, at: datetime) -> MaintenanceWindow | None:
        """A maintenance window covering ``object_id`` at ``at``, approved or not."""
        for window in self._contract.maintenance_windows:
            if object_id in self.members(window) and window.covers(at):
                return window
        return None

    def excludes_sla(self, object_id: str | None) -> bool:
        """Whether an approved ``excludes_sla`` window covers the object at some time."""
        return any(object_id in members for _, members in self._excluding)

    def sla_exclusions(
        self, object_id: str | None, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Intervals in ``[start, end)`` when the object's SLA clocks do not count: its
        approved maintenance windows that the contract marks ``excludes_sla``."""
        return sorted(
            span
            for window, members in self._excluding
            if object_id in members
            for span in window.occurrences(start, end)
        )

    def holding_window(self, object_id: str | None, at: datetime) -> MaintenanceWindow | None:
        """The approved maintenance window in which intake holds a firing alert on the object
        (an unapproved window counts for nothing: a window needs the customer's approval)."""
        if object_id is None:
            return None
        for window in self._contract.maintenance_windows:
            if window.approved_by is None or not window.covers(at):
                continue
            if object_id in self.members(window):
                return window
        return None

    def released_at(self, object_id: str | None, at: datetime) -> datetime | None:
        """When an alert fired at ``at`` reaches an incident, if intake holds it: the end of
        the approved windows covering the object from ``at`` on (back-to-back windows chain);
        None if it is not held."""
        end = None
        t = at
        for _ in range(64):  # back-to-back windows; a bound against a pathological contract
            window = self.holding_window(object_id, t)
            if window is None:
                return end
            ends = [c for o, c in window.occurrences(t, t + timedelta(microseconds=1)) if o <= t]
            if not ends:
                return end
            end = t = max(ends)
        return end
