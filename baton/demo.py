"""The demo: an alert storm from the example environment, driven to closure reports."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer

from baton.stack import client_settings
from shared.checkins import Duty, Expectation, expectations
from shared.contract import Contract, load_contract
from shared.contract.model_validators import format_duration
from shared.events import CheckinPingV1, Layer, make_event
from shared.kafka import aiokafka_kwargs, event_headers
from shared.settings import Settings
from shared.topics import Topic

# The seed article's night: a disk fails in the accounting database's server; the OS, the DBMS,
# the accounting system, the bank exchange and the accountants' workstations all notice. Labels
# are those the example contract (examples/contract) matches. One alert is outside the perimeter.
STORM = [
    # (alertname, labels, summary)
    (
        "RaidDiskFailed",
        {"instance": "srv-pg-01", "severity": "critical"},
        "srv-pg-01: the RAID controller reports a failed disk",
    ),
    (
        "NodeFilesystemReadonly",
        {"instance": "srv-pg-01", "job": "node", "severity": "critical"},
        "srv-pg-01: /var/lib/postgresql remounted read-only",
    ),
    (
        "PostgresDown",
        {"service": "postgres", "instance": "srv-pg-01", "severity": "critical"},
        "Accounting database does not answer",
    ),
    (
        "AccountingErrors",
        {"service": "accounting", "severity": "critical"},
        "Accounting system: documents are not posted",
    ),
    (
        "LoginFailures",
        {"group": "ws-hq-accounting", "severity": "warning"},
        "Accountants cannot log in to the accounting client",
    ),
    (
        "PrinterOffline",
        {"instance": "prn-branch-7", "severity": "warning"},
        "Printer in branch 7 is offline (not in the contract's perimeter)",
    ),
]


def _webhook(
    alertname: str, labels: dict[str, str], summary: str, now: datetime, fingerprint: str
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "status": "firing",
        "receiver": "baton",
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname, **labels},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": alertname, **labels},
                "annotations": {"summary": summary},
                "startsAt": (now - timedelta(minutes=3)).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090",
                "fingerprint": fingerprint,
            }
        ],
    }


def _night_run(contract: Contract, settings: Settings) -> Expectation | None:
    """The bank exchange's scheduled run (the example contract's file exchange with a timeout),
    keyed under the stack's check-in secret."""
    secrets = [s.get_secret_value() for s in settings.checkin_secret or ()]
    for exp in expectations(contract, secrets[0] if secrets else None):
        obj = contract.object(exp.object_id)
        if exp.duty is Duty.RUN and obj is not None and obj.kind.value == "file_exchange":
            return exp
    return None


async def _report_start(settings: Settings, exp: Expectation, at: datetime) -> None:
    event = make_event(
        CheckinPingV1(key=exp.key, kind="start", at=at, body="fetching statements from the bank"),
        source="demo/bank-exchange-job",
        time=at,
    )
    producer = AIOKafkaProducer(**aiokafka_kwargs(settings), enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(Topic.CHECKINS),
            event.to_json(),
            key=exp.key.encode(),
            headers=[(k, v.encode()) for k, v in event_headers(event).items()],
        )
    finally:
        await producer.stop()


def miss_the_night_run(
    contract: Contract, now: datetime, *, kafka: str | None = None, log: Any = print
) -> Expectation | None:
    """The bank exchange's night run started at 02:00 and never finished: its start report (sent
    over Kafka, as a job that speaks Kafka does) arrives now; the run's timeout has long passed,
    so sla-clock's watchdog reports the run as failed at its next tick — no monitoring rule
    needed."""
    settings = client_settings()  # the stack's address and admin credentials, unless set
    exp = _night_run(contract, settings)
    if exp is None or exp.timeout is None:
        return None
    zone = ZoneInfo(exp.timezone)
    local = now.astimezone(zone)
    night = local.replace(hour=2, minute=0, second=0, microsecond=0)
    if night > local - exp.timeout:
        night -= timedelta(days=1)
    if kafka:
        settings = settings.model_copy(update={"kafka_bootstrap": kafka})
    asyncio.run(_report_start(settings, exp, night.astimezone(UTC)))
    log(
        f"bank exchange ({exp.object_id}): the night run started {night:%Y-%m-%d %H:%M %Z} "
        f"and never finished (timeout {format_duration(exp.timeout)}) → sla-clock's watchdog "
        "raises it"
    )
    return exp


def run_demo(
    intake: str,
    reporting: str,
    contract_path: Path,
    *,
    sla_clock: str | None = None,
    kafka: str | None = None,
    auth: httpx.Auth | None = None,
    log: Any = print,
    mailpit: str | None = None,
) -> list[str]:
    """Feed the storm, then act as contractors and customer until every incident is closed."""
    contract = load_contract(contract_path)
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    night_run = miss_the_night_run(contract, now, kafka=kafka, log=log) if sla_clock else None
    with httpx.Client(timeout=30, auth=auth) as client:
        still_open = {
            r["id"]: r["alert_count"]
            for r in _incidents(client, reporting)
            if r["status"] != "closed"
        }
        if still_open:
            log(
                f"note: {len(still_open)} incidents are still open on this stack (earlier runs,"
                " benchmarks): an alert on one of their objects joins it instead of opening a"
                " new one, and the demo acts on those too; `baton stack down --purge` starts"
                " clean"
            )
        for i, (name, labels, summary) in enumerate(STORM):
            body = _webhook(name, labels, summary, now, f"demo-{run}-{i}")
            for _ in range(2):  # every alert twice: the repeat is deduplicated
                client.post(f"{intake}/v1/alerts/alertmanager", json=body).raise_for_status()
        bad = client.post(
            f"{intake}/v1/alerts/alertmanager",
            json={"version": "4", "alerts": [{"status": "on fire"}]},
        )
        log(
            f"malformed webhook → {bad.status_code}: {bad.json()['fields'][0]} (kept in the "
            "dead-letter topic)"
        )

        ours = _settled(client, reporting, since=now, grown=still_open)
        log(f"{2 * len(STORM)} alerts (each sent twice) → {len(ours)} incidents:")
        for inc in ours:
            log(
                f"  {inc['id']}: origin {inc['origin_object'] or '(outside the perimeter)'}, "
                f"{inc['alert_count']} alerts on {len(inc['objects'])} objects, "
                f"owner {inc['primary_party']}, coordinator {inc['coordinator']}; "
                f"units affected: {'; '.join(inc['scope']) or '-'}"
            )
        if night_run is not None and sla_clock is not None:
            # the exchange is rerun once the database is back: its success resolves the alert
            # (monitoring recovery); the incident still closes only on the customer's word
            client.post(
                f"{sla_clock}/ping/{night_run.key}", content=b"statements fetched (rerun)"
            ).raise_for_status()
            log("bank exchange: the rerun reports success → its alert resolves")
        log("acting as contractors and customer…")
        customer = next(p for p, v in contract.parties.items() if v.kind == "customer")
        mailbox = contract.parties[customer].contact
        for inc in ours:
            layer = Layer(inc["layer"]) if inc["layer"] else None
            party = contract.primary_party(layer) if layer else contract.coordinator
            url = f"{intake}/v1/incidents/{inc['id']}/actions"
            for body in (
                {"action": "acknowledge", "party": party, "actor": "duty.engineer"},
                {
                    "action": "restored",
                    "party": party,
                    "actor": "duty.engineer",
                    "cause": f"demo: {inc['summary']}",
                    "actions_taken": ["diagnosed", "fixed"],
                    "recurrence_risk": "low",
                },
            ):
                client.post(url, json=body).raise_for_status()
                time.sleep(0.05)
            # the customer confirms as a phone would: the link in the e-mail Baton sent it
            link = confirm_link(mailpit, mailbox, inc["id"]) if mailpit else None
            if link is not None:
                page = httpx.post(link, timeout=30)
                log(f"  {inc['id']}: confirmed through the e-mailed link → {page.status_code}")
                page.raise_for_status()
            else:
                confirm = {"action": "confirm", "party": customer, "actor": "it.desk"}
                client.post(url, json=confirm).raise_for_status()
        ids = [inc["id"] for inc in ours]
        _wait_for(
            client,
            reporting,
            lambda rows: all(r["status"] == "closed" for r in rows if r["id"] in ids),
        )
    return ids


def confirm_link(mailpit: str, to: str, incident: str, timeout: float = 60) -> str | None:
    """The "Confirm" link of the e-mail asking ``to`` to confirm ``incident``'s restoration,
    read from Mailpit's HTTP API (None when none arrives within ``timeout``)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=mailpit, timeout=10) as mp:
        while time.monotonic() < deadline:
            for msg in mp.get("/api/v1/messages", params={"limit": 500}).json()["messages"]:
                to_us = any(a["Address"] == to for a in msg["To"])
                if to_us and incident in msg["Subject"] and "confirm" in msg["Subject"]:
                    text = mp.get(f"/api/v1/message/{msg['ID']}").json()["Text"]
                    for line in text.splitlines():
                        if line.strip().startswith("Confirm:") and "/v1/links/" in line:
                            return str(line.rsplit(" ", 1)[1].strip())
            time.sleep(0.5)
    return None


async def told(dsn: str, incidents: list[str]) -> list[str]:
    """Who was told what, through which channel: the router's notifications of ``incidents``."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT incident_id, recipient, channel, address, state, subject, body"
            " FROM router.notifications WHERE incident_id = ANY($1::text[])"
            " ORDER BY incident_id, created_at, recipient, channel",
            incidents,
        )
    finally:
        await conn.close()
    lines: list[str] = []
    for incident in dict.fromkeys(r["incident_id"] for r in rows):
        mine = [r for r in rows if r["incident_id"] == incident]
        lines.append(f"  {incident}:")
        by_person: dict[tuple[str, str, str], list[Any]] = {}
        for r in mine:
            by_person.setdefault((r["recipient"], r["channel"], r["address"]), []).append(r)
        for (recipient, channel, address), sent in by_person.items():
            what = "; ".join(r["subject"].split(": ", 1)[-1] for r in sent)
            states = ", ".join(
                f"{n} {state}" for state, n in Counter(r["state"] for r in sent).most_common()
            )
            lines.append(f"    {recipient} via {channel} ({address}): {what} — {states}")
        by_hand = dict.fromkeys(
            line.strip()
            for r in mine
            for line in r["body"].splitlines()
            if line.startswith("  ") and " — " in line and line.strip().split()[0] in _VERBS
        )
        if by_hand:
            lines.append("    no sender for these; the coordinator was asked to reach them:")
            lines.extend(f"      {line}" for line in by_hand)
    return lines


_VERBS = frozenset({"call", "text", "page", "message", "mail", "reach"})


def _incidents(client: httpx.Client, reporting: str) -> list[dict[str, Any]]:
    """The newest 1,000 incidents (the read API's most)."""
    rows: list[dict[str, Any]] = client.get(
        f"{reporting}/v1/incidents", params={"limit": 1000}
    ).json()
    return rows


def _settled(
    client: httpx.Client,
    reporting: str,
    *,
    since: datetime,
    grown: Mapping[str, int],
    quiet: float = 2.0,
    timeout: float = 60,
) -> list[dict[str, Any]]:
    """The incidents opened since ``since`` or, of those open before (``grown``: id -> its
    alerts then), the ones that took more alerts; once none has changed for ``quiet`` seconds
    (correlation folds alerts into incidents, so neither number is known in advance)."""
    deadline = time.monotonic() + timeout
    last: object = None
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        rows = [
            r
            for r in _incidents(client, reporting)
            if datetime.fromisoformat(r["opened_at"]) >= since
            or r["alert_count"] > grown.get(r["id"], r["alert_count"])
        ]
        signature = sorted((r["id"], r["alert_count"], r["primary_party"] or "") for r in rows)
        if signature != last:
            last, last_change = signature, time.monotonic()
        elif rows and time.monotonic() - last_change >= quiet:
            return rows
        time.sleep(0.3)
    raise TimeoutError(f"demo: the storm's incidents did not settle in {timeout}s")


def _wait_for(client: httpx.Client, reporting: str, done: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        rows = _incidents(client, reporting)
        if done(rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: the pipeline did not get there in {timeout}s: {rows}")
        time.sleep(0.3)
