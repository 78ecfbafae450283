"""The chaos suite: a 10,000-alert storm on a stack of its own while each part of it fails once.

Its own stack folder and free ports (never the shared infrastructure), the example contract,
loopback only, two intake instances (a client that cannot connect to one goes to the other, as
behind a load balancer). The storm is cut into seven equal parts; the first goes out on a
healthy stack, and each further part is released the moment one fault has broken something, so
every fault falls inside the storm: kill -9 of intake, router, sla-clock and reporting in turn
(each restarted at once, as a supervisor would), kill -9 of Kafka, then PostgreSQL's fast
shutdown (every connection cut), each restarted. Recovery is the time from the break until
every service process answers /readyz 200.

Afterwards, from the record (the incidents, assignments and sla topics read from the start):
- every alert answered 2xx is in exactly one incident, through exactly one fact (lost 0,
  doubled 0); an alert refused (503, no answer) may be in none or one;
- every incident has exactly one primary and one coordinator assignment;
- sla-clock's events equal an unharmed run's: the pure core sla-clock runs (``apply`` +
  ``timers``), folded once over the recorded facts in order, gives the events an unharmed
  sla-clock publishes by a given instant. Alerts carry their own start up to an hour back
  (the contract's ``max_backdate``), so thresholds fall due before, during and after the
  faults, sla-clock's own kill among them. What was published must hold every event due by
  the moment the read began (less the tick) and none not due by the moment it ended, each
  under one id, and what fell due during the read is there a tick later: no warning or breach
  missing, extra or doubled;
- reporting's read model holds every incident and every assignment once.

Sizes: ``BATON_CHAOS_ALERTS`` (default 10,000), ``BATON_CHAOS_RATE`` (alerts/s, default 150).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from baton import stack
from shared.contract import Contract, load_contract
from shared.events import EventType
from tests.chaos.harness import (
    FIRES,
    ChaosStack,
    Record,
    Recovery,
    Storm,
    clock_key,
    expected_clock_events,
    read_topic,
    run_fault,
    standard_faults,
    storm_alerts,
)

ALERTS = int(os.environ.get("BATON_CHAOS_ALERTS", "10000"))
RATE = float(os.environ.get("BATON_CHAOS_RATE", "150"))
RECOVERY_DEADLINE = 180.0  # a killed broker recovers its logs first
SETTLE_DEADLINE = 150.0  # for the pipeline to digest what was accepted
TICK_SLACK = timedelta(seconds=5)  # sla-clock looks for due timers every second


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("chaos-stack")
    env = {"BATON_HEALTH_INTERVAL_SECONDS": "1", "BATON_LOG_LEVEL": "WARNING"}
    own: ChaosStack | None = None
    try:
        own = ChaosStack.up(root, env=env, extra=("intake",))
        yield own
    finally:
        if own is not None:
            own.down()
        else:
            stack.down(stack.stack_paths({stack.STACK_DIR_ENV: str(root)}), purge=True)
        os.environ.clear()
        os.environ.update(saved)


async def poll_record(
    chaos: ChaosStack, contract: Contract, ready: Any, deadline: float
) -> tuple[Record, datetime, datetime]:
    """Read the record until ``ready(record, began, ended)`` is empty or the deadline passed."""
    while True:
        began = datetime.now(UTC)
        record = await Record.read(chaos.kafka, chaos.dsn, contract)
        ended = datetime.now(UTC)
        if not ready(record, began, ended) or time.monotonic() > deadline:
            return record, began, ended
        await asyncio.sleep(2)


async def test_nothing_is_lost_or_doubled_while_everything_fails_once(chaos: ChaosStack) -> None:
    contract = load_contract(stack.EXAMPLE_CONTRACT)
    run = f"c{int(time.time())}"
    alerts = storm_alerts(
        ALERTS, run, [o.id for o in contract.objects], "chaos", start=datetime.now(UTC)
    )
    wire = {f"chaos:{a['fingerprint']}" for a in alerts}  # intake prefixes the source
    storm = Storm(chaos.intake_urls(), alerts, rate=RATE, auth=chaos.auth())
    faults = standard_faults(chaos)
    faults = [f for f in faults if f.name != "kill -9 intake-2"]  # intake-2 serves meanwhile
    part = -(-ALERTS // (len(faults) + 1))
    recovery: dict[str, Recovery] = {}

    async def schedule() -> None:
        storm.release(part)
        await storm.reached(part)
        for n, fault in enumerate(faults, start=2):
            upto = functools.partial(storm.release, n * part)
            recovery[fault.name] = await run_fault(chaos, fault, upto, RECOVERY_DEADLINE)
            await storm.reached(n * part)
            print(
                f"== chaos: {fault.name} recovered in {recovery[fault.name].ready:.1f} s; at"
                f" {time.monotonic() - started:.0f} s sent {storm.sent}, accepted"
                f" {len(storm.accepted)}",
                flush=True,
            )
        storm.release(ALERTS)

    started = time.monotonic()
    await asyncio.gather(storm.run(), schedule())
    stormed = time.monotonic() - started
    accepted = {f"chaos:{fp}" for fp in storm.accepted}
    print(f"\n== chaos: storm over in {stormed:.0f} s", flush=True)

    # -- the pipeline digests what was accepted: landed, assigned, clocks due
    def missing(record: Record, began: datetime, ended: datetime) -> list[str]:
        landings = record.landings()
        roles = record.roles()
        lo = expected_clock_events(contract, record.facts, began - TICK_SLACK)
        published = record.clock_events()
        return [
            *(fp for fp in accepted if fp not in landings and fp not in record.held),
            *(i for i, r in roles.items() if not (r["primary"] and r["coordinator"])),
            *(str(k) for k in lo - published.keys()),
        ]

    record, began, ended = await poll_record(
        chaos, contract, missing, time.monotonic() + SETTLE_DEADLINE
    )
    settled = time.monotonic() - started - stormed
    landings = {fp: ls for fp, ls in record.landings().items() if fp in wire}
    lost = sorted(accepted - landings.keys() - record.held)
    doubled = sorted(fp for fp, ls in landings.items() if len(ls) > 1)
    in_two = sorted(fp for fp, ls in landings.items() if len({i for i, _ in ls}) > 1)
    landed_refused = len(landings.keys() - accepted)
    wrong_roles = record.wrong_owners()
    owned = record.roles().values()
    handovers = sum(r["handover"] for r in owned)
    assigned = sum(r.total() for r in owned) - handovers

    incidents = record.incidents()
    published = {k: ids for k, ids in record.clock_events().items() if k[1] in incidents}
    lo = expected_clock_events(contract, record.facts, began - TICK_SLACK)
    hi = expected_clock_events(contract, record.facts, ended)
    clocks_missing = sorted(lo - published.keys())
    clocks_extra = sorted(published.keys() - hi)
    clocks_doubled = sorted(k for k, ids in published.items() if len(ids) > 1)
    fires = [k for k in published if k[0] in {t.value for t in FIRES}]
    band = len(hi - lo)
    # what fell due while the record was read must be published a tick later
    await asyncio.sleep(max(0.0, (ended + TICK_SLACK - datetime.now(UTC)).total_seconds()))
    later = {k for e in await read_topic(chaos.kafka, "baton.sla") if (k := clock_key(e))}
    band_missing = sorted(hi - later)
    reporting = await reporting_differences(chaos.dsn, record)

    print(
        f"\n== chaos: {ALERTS} alerts in {stormed:.0f} s ({storm.requests} requests,"
        f" {storm.per_request} alerts each, two intake instances), digested {settled:.0f} s"
        f" later: sent {storm.sent}, accepted {len(accepted)}, landed"
        f" {len(accepted & landings.keys())}, held by a maintenance window"
        f" {len(accepted & record.held)}, lost {len(lost)}, doubled {len(doubled)}"
        f" (in two incidents {len(in_two)}); refused {len(storm.refused)}"
        f" (of which landed later {landed_refused});"
        f" answers per request {dict(sorted(storm.statuses.items()))} (0 = none in"
        f" {storm.timeout:g} s)"
    )
    print(
        f"== chaos: {len(incidents)} incidents, {assigned} assignments, {handovers} handovers"
        f" to a deeper origin, {len(published)} clock events ({len(fires)} warnings and breaches;"
        f" {band} fell due while the record was read), repeats of an id dropped"
        f" {record.repeats}"
    )
    for name, r in recovery.items():
        print(
            f"== chaos: {name:<22} running again after {r.restored:5.1f} s,"
            f" every service ready after {r.ready:5.1f} s"
        )

    assert storm.sent == ALERTS
    assert len(accepted) > ALERTS // 2, "most of the storm must meet a working intake"
    assert not lost, f"accepted but in no incident: {lost[:10]}"
    assert not doubled, f"more than one fact for one alert: {doubled[:10]}"
    assert not wrong_roles, (
        f"not one coordinator, one primary at a time: {list(wrong_roles.items())[:5]}"
    )
    assert not clocks_missing, f"due but not published: {clocks_missing[:10]}"
    assert not clocks_extra, f"published but not due: {clocks_extra[:10]}"
    assert not band_missing, f"due while the record was read, not published: {band_missing[:10]}"
    assert not clocks_doubled, f"published under two ids: {clocks_doubled[:10]}"
    assert len(fires) > 100, "the comparison must cover a real number of warnings and breaches"
    assert not reporting, f"reporting's read model differs from the record: {reporting}"
    assert set(recovery) == {f.name for f in faults}


async def reporting_differences(dsn: str, record: Record) -> dict[str, object]:
    """Reporting's incidents and assignment events against the record."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id FROM reporting.incidents")
        issued = await conn.fetch(
            "SELECT event_id FROM reporting.incident_events WHERE type = $1",
            EventType.ASSIGNMENT_ISSUED.value,
        )
    finally:
        await conn.close()
    incidents = {str(r["id"]) for r in rows}
    events = {str(r["event_id"]) for r in issued}
    recorded = {str(e.id) for e in record.assignments if e.type == EventType.ASSIGNMENT_ISSUED}
    out: dict[str, object] = {}
    if incidents != record.incidents():
        out["incidents"] = (len(incidents), len(record.incidents()))
    if events != recorded:
        out["assignments"] = (len(events), len(recorded))
    return out
