"""Shared normalisation steps: labels → contract object, severity → category hint, Alert."""

from __future__ import annotations

from datetime import datetime

from shared.contract import Contract
from shared.events import Alert, Category

# Alertmanager and Grafana write "no end yet" as Go's zero time.
UNSET_END = datetime.fromisoformat("0001-01-01T00:00:00+00:00")
OUTAGE_SEVERITIES = frozenset({"critical", "disaster", "high", "page"})


def category_hint(labels: dict[str, str]) -> Category:
    """A ``category`` label wins; otherwise a critical severity is an outage."""
    try:
        return Category(labels["category"])
    except (KeyError, ValueError):
        pass
    severity = labels.get("severity", "").lower()
    return Category.OUTAGE if severity in OUTAGE_SEVERITIES else Category.DEGRADATION


def end_of(value: datetime | None) -> datetime | None:
    return value if value is not None and value > UNSET_END else None


def make_alert(
    contract: Contract,
    *,
    source: str,
    fingerprint: str,
    status: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    summary: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    links: list[str] | None = None,
    object_id: str | None = None,
    category: Category | None = None,
) -> Alert:
    """One normalised alert; the object comes from ``object_id`` when the contract knows it,
    else from the contract's matching rules over ``labels`` (None = outside the perimeter)."""
    obj = contract.object(object_id) if object_id else None
    if obj is None:
        obj = contract.match_alert(labels)
    return Alert(
        source=source,
        fingerprint=fingerprint,
        status="resolved" if status == "resolved" else "firing",
        object_id=obj.id if obj else None,
        layer=obj.layer if obj else None,
        severity=labels.get("severity", "unknown"),
        category_hint=category or category_hint(labels),
        summary=summary,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=end_of(ends_at),
        links=[link for link in links or [] if link],
    )
