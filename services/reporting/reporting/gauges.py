"""The business gauges, shown by one reporting instance.

Open incidents, open problems and the mean times are read from the whole read model, which every
reporting instance shares. If each instance showed them, the dashboards' ``sum()`` over
instances would count every incident once per instance (ADR 67). So one instance shows them: the
one the consumer group gave partition 0 of the incidents topic. The others show no series at all
(not zeros), and read nothing for them. A rebalance moves the duty with the partition; for one
refresh during it either instance may show them, or none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reporting import store
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class Reading:
    open: list[tuple[str, str, str, float]]
    """(priority, layer, party, how many)"""
    problems: dict[str, int]
    mtta: float
    mttr: float


async def read(conn: Conn) -> Reading:
    """The gauges' values from the read model."""
    rows = await store.open_incidents(conn)
    mtta, mttr = await store.mean_times(conn)
    problems = await store.open_problems_by_owner(conn)
    return Reading(
        open=[(r["priority"], r["layer"], r["party"], float(r["n"])) for r in rows],
        problems=problems,
        mtta=mtta,
        mttr=mttr,
    )


class BusinessGauges(Collector):
    """``baton_incidents_open``, ``baton_problems_open``, ``baton_mtta_seconds`` and
    ``baton_mttr_seconds`` from the last reading, or nothing while this instance is not the
    one that shows them."""

    def __init__(self) -> None:
        self.reading: Reading | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reading = self.reading
        if reading is None:
            return
        incidents = GaugeMetricFamily(
            "baton_incidents_open",
            "Incidents not yet closed",
            labels=["priority", "layer", "party"],
        )
        for priority, layer, party, count in reading.open:
            incidents.add_metric([priority, layer, party], count)
        yield incidents
        problems = GaugeMetricFamily(
            "baton_problems_open", "Problem records open, by owner (ADR 48)", labels=["owner"]
        )
        for owner, count in sorted(reading.problems.items()):
            problems.add_metric([owner], count)
        yield problems
        yield GaugeMetricFamily(
            "baton_mtta_seconds", "Mean time to acknowledge, last 30 days", value=reading.mtta
        )
        yield GaugeMetricFamily(
            "baton_mttr_seconds",
            "Mean time from first alert to restoration, last 30 days",
            value=reading.mttr,
        )
