"""Intake on the real broker and database: every format's documented payload, the raw-alerts
topic, deduplication and recovery, one incident for a storm across four layers, maintenance
windows. Intake runs as a real process (router and the rest are not needed here)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from shared.contract import load_contract
from shared.contract_feed import publish_contract
from shared.events import (
    AlertAttachedV1,
    AlertCorrelatedV1,
    AlertReceivedV1,
    AlertResolvedV2,
    DeadLetterV1,
    Envelope,
    EventType,
    IncidentOpenedV1,
    IncidentReclassifiedV1,
    OriginMovedV1,
    SourceAcknowledgedV1,
    stable_id,
)
from tests import factories
from tests.integration.conftest import Isolated, ServiceProcs, started, stop_services
from tests.integration.helpers import collect, kafka, read_topic, wait_consumed

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
CONTRACT = FIXTURES / "contract.yaml"


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


async def start_intake(
    isolated: Isolated, tmp: Path, contract: Path = CONTRACT, **env: str
) -> ServiceProcs:
    isolated.env |= {"BATON_CONTRACT_PATH": str(contract), "BATON_INTAKE_TICK_SECONDS": "0.5"}
    isolated.env |= env
    return await started(isolated, tmp, ["intake"])


def logon_failures(run: str, **alert: str) -> dict[str, Any]:
    """A generic alert from the directory: logon failures on the accounting workstations (the
    group ``ws-accounting``), ``alert`` added to it."""
    return {
        "alerts": [
            {
                "source": "ad",
                "fingerprint": f"logon-{run}",
                "summary": "Logon failures",
                "labels": {"group": "ws-accounting"},
                "severity": "critical",
                **alert,
            }
        ]
    }


async def settle(bootstrap: str, topic: str, want: int) -> list[Envelope]:
    """``want`` events, then a second look once intake has handled all its input (committed
    offsets at the end of its topics): nothing more may have arrived."""
    await collect(bootstrap, topic, want)
    prefix = topic[: topic.index(".") + 1]
    await wait_consumed(
        bootstrap,
        {
            f"{prefix}intake.raw": f"{prefix}alerts.raw",
            f"{prefix}intake.alerts": f"{prefix}alerts",
            f"{prefix}intake.commands": f"{prefix}commands",
        },
    )
    events = await collect(bootstrap, topic, want)
    assert len(events) == want, [(e.type.value, e.subject) for e in events]
    return events


async def test_every_format_opens_the_right_incident(isolated: Isolated, tmp_path: Path) -> None:
    # no correlation window: each format's alert stands alone on its own object
    sp = await start_intake(isolated, tmp_path, BATON_INTAKE_CORRELATION_WINDOW_SECONDS="0")
    url = sp.urls["intake"]
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    try:
        async with httpx.AsyncClient(auth=isolated.auth(), base_url=url, timeout=30) as client:
            posts = [
                ("/v1/alerts/alertmanager", "alertmanager.json"),
                ("/v1/alerts/grafana", "grafana.json"),
                ("/v2/enqueue", "pagerduty-trigger.json"),
                ("/v1/alerts/zabbix", "zabbix-problem.json"),
                ("/v1/alerts", "generic.json"),
                ("/v1/incidents", "user-report.json"),
                ("/v2/change/enqueue", "pagerduty-change.json"),
            ]
            for path, name in posts:
                response = await client.post(path, json=fixture(name))
                assert response.status_code == 202, (path, response.text)
            assert (
                await client.post("/v1/alerts/alertmanager", json=fixture("alertmanager.json"))
            ).status_code == 202

            producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
            await producer.start()
            try:
                raw = fixture("alertmanager.json")
                raw["alerts"][0] |= {"labels": {"service": "mail"}, "fingerprint": "raw-mail"}
                await producer.send_and_wait(
                    f"{prefix}alerts.raw",
                    orjson.dumps(raw),
                    key=b"raw-mail",
                    headers=[("format", b"alertmanager")],
                )
                await producer.send_and_wait(
                    f"{prefix}alerts.raw", b"{not json", key=b"x", headers=[("format", b"zabbix")]
                )
                await producer.send_and_wait(
                    f"{prefix}alerts.raw",
                    orjson.dumps(raw),
                    key=b"y",
                    headers=[("format", b"snmp")],
                )
            finally:
                await producer.stop()

            opened = await settle(bootstrap, f"{prefix}incidents", 9)
            by_object = {
                e.data.object_id: e for e in opened if isinstance(e.data, IncidentOpenedV1)
            }
            assert set(by_object) == {
                "pg-main",  # Alertmanager
                "srv-db-01",  # Grafana, first alert
                None,  # Grafana, second alert: outside the perimeter, flagged, not dropped
                "stor-01",  # PagerDuty
                "os-db-01",  # Zabbix
                "bank-exchange",  # generic JSON
                "acc-app",  # user report
                "mail-01",  # raw-alerts topic
            }
            assert by_object[None].data.outside_perimeter  # type: ignore[attr-defined]
            repeat = [e for e in opened if e.type == EventType.ALERT_ATTACHED]
            assert len(repeat) == 1
            assert repeat[0].subject == by_object["pg-main"].subject
            assert repeat[0].data.count == 2  # type: ignore[attr-defined]

            changes = (await client.get("/v1/objects/srv-db-01/changes")).json()["changes"]
            assert [c["summary"] for c in changes] == [
                fixture("pagerduty-change.json")["payload"]["summary"]
            ]
            assert changes[0]["links"] == ["https://acme.pagerduty.dev/build/2"]
            assert (await client.get("/v1/objects/nope/changes")).status_code == 404

            # recovery: recorded on the incident, which stays open
            resolve = await client.post("/v2/enqueue", json=fixture("pagerduty-resolve.json"))
            assert resolve.json() == {
                "status": "success",
                "message": "Event processed",
                "dedup_key": "samplekeyhere",
            }
            recovery = await client.post("/v1/alerts/zabbix", json=fixture("zabbix-recovery.json"))
            assert recovery.status_code == 202
            events = await settle(bootstrap, f"{prefix}incidents", 11)
            recovered = {e.subject: e.data for e in events if isinstance(e.data, AlertResolvedV2)}
            assert set(recovered) == {by_object["stor-01"].subject, by_object["os-db-01"].subject}
            assert not any(e.type == EventType.INCIDENT_CLOSED for e in events)

        letters = await collect(bootstrap, f"{prefix}deadletter", 2)
        reasons = {e.data.reason for e in letters if isinstance(e.data, DeadLetterV1)}
        assert any("not JSON" in r for r in reasons)
        assert any("headers.format" in r and "snmp" in r for r in reasons)
    finally:
        stop_services(sp)


async def test_storm_across_four_layers_is_one_incident_with_origin_and_scope(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Workstation login failures, accounting errors (a user report), PostgreSQL down, a
    storage failure — each format a different monitoring system, twice each: one incident,
    origin the storage, scope every unit above it."""
    sp = await start_intake(isolated, tmp_path)
    url = sp.urls["intake"]
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    ws = logon_failures(run)
    report = fixture("user-report.json") | {"since": now.isoformat()}
    pg = fixture("alertmanager.json")
    pg["alerts"][0] |= {"fingerprint": f"pg-{run}", "startsAt": now.isoformat()}
    storage = fixture("pagerduty-trigger.json") | {"dedup_key": f"stor-{run}"}
    try:
        async with httpx.AsyncClient(auth=isolated.auth(), base_url=url, timeout=30) as client:
            for path, body in [
                ("/v1/alerts", ws),
                ("/v1/incidents", report),
                ("/v1/alerts/alertmanager", pg),
                ("/v2/enqueue", storage),
            ] * 2:
                response = await client.post(path, json=body)
                assert response.status_code == 202, response.text
        # opened + 3 correlated + 3 origin moves + 2 reclassifications (the priority follows
        # the origin: medium workstations P3, the high application P2, the critical database
        # P1; the storage is P1 too) + 3 repeats (the second user report is a new report on an
        # object already in the incident: attached too) + 1 more = 13
        events = await settle(bootstrap, f"{prefix}incidents", 13)
    finally:
        stop_services(sp)
    types = [e.type for e in events]
    assert types.count(EventType.INCIDENT_OPENED) == 1
    assert len({e.subject for e in events}) == 1
    moves = [e.data for e in events if isinstance(e.data, OriginMovedV1)]
    assert moves[-1].to_object == "stor-01"
    assert moves[-1].scope == ["Accounting", "Accounting department", "IT", "Treasury"]
    assert types.count(EventType.ALERT_CORRELATED) == 3
    assert types.count(EventType.ALERT_ATTACHED) == 4
    follows = [e.data for e in events if isinstance(e.data, IncidentReclassifiedV1)]
    assert [(r.priority, r.reason) for r in follows] == [
        ("P2", "origin_moved"),
        ("P1", "origin_moved"),
    ]


async def test_a_pagerduty_acknowledge_is_recorded_as_the_source_acknowledging(
    isolated: Isolated, tmp_path: Path
) -> None:
    """What a PagerDuty client sends for ``acknowledge`` (routing key, dedup key, action): a
    ``source_acknowledged`` fact on the incident holding the dedup key — no repeat of the
    alert, no new incident for a key Baton never opened."""
    sp = await start_intake(isolated, tmp_path)
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    run = uuid.uuid4().hex[:6]
    trigger = fixture("pagerduty-trigger.json") | {"dedup_key": f"disk-{run}"}
    ack = fixture("pagerduty-acknowledge.json") | {"dedup_key": f"disk-{run}"}
    stray = fixture("pagerduty-acknowledge.json") | {"dedup_key": f"never-{run}"}
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            response = await client.post("/v2/enqueue", json=trigger)
            assert response.status_code == 202, response.text
            await collect(bootstrap, f"{prefix}incidents", 1)
            for body in (ack, stray):
                response = await client.post("/v2/enqueue", json=body)
                assert response.status_code == 202, response.text
                assert response.json()["dedup_key"] == body["dedup_key"]
        events = await settle(bootstrap, f"{prefix}incidents", 2)
    finally:
        stop_services(sp)
    opened, acknowledged = events
    assert opened.type == EventType.INCIDENT_OPENED
    assert acknowledged.type == EventType.SOURCE_ACKNOWLEDGED
    assert acknowledged.subject == opened.subject
    assert isinstance(acknowledged.data, SourceAcknowledgedV1)
    assert acknowledged.data.source == "pagerduty"
    assert acknowledged.data.fingerprint.endswith(f":disk-{run}")


def with_window(ends: datetime, start: datetime, version: str) -> str:
    """The intake fixture contract with an approved window on the mail server and the bank
    exchange from ``start`` to ``ends``."""
    window = (
        "maintenance_windows:\n"
        "  - id: mail-now\n"
        "    objects: [mail-01, bank-exchange]\n"
        f"    start: {start.isoformat()}\n"
        f"    end: {ends.isoformat()}\n"
        "    approved_by: customer/it-head\n"
    )
    text = CONTRACT.read_text().replace("maintenance_windows:\n", window, 1)
    return text.replace('version: "2026.11.1"', f'version: "{version}"', 1)


async def test_maintenance_window_holds_alerts_until_it_ends(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Alerts arrive inside a window of the contract intake starts with (an hour long, so that
    no start is too slow for it); once intake has handled them, only the alert outside the
    window has opened. Then the customer ends the window two seconds from now (a new contract
    version): the alert still firing opens once it ends, dated at the end (the SLA counts from
    there); the one that recovered inside the window never opens."""
    now = datetime.now(UTC)
    began = now - timedelta(minutes=5)
    contract = tmp_path / "contract.yaml"
    contract.write_text(with_window(now + timedelta(hours=1), began, "2026.11.1"))
    sp = await start_intake(isolated, tmp_path / "run", contract)
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix

    def alert(service: str, fingerprint: str, status: str = "firing") -> dict[str, Any]:
        return {
            "alerts": [
                {
                    "source": "nagios",
                    "fingerprint": fingerprint,
                    "status": status,
                    "summary": f"{service} check failed",
                    "labels": {"service": service},
                }
            ]
        }

    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            for body in (
                alert("mail", "mail-down"),  # still firing when the window ends: opens then
                alert("bank-exchange", "bank-late"),  # recovers inside the window: never opens
                alert("bank-exchange", "bank-late", "resolved"),
                alert("accounting", "acc-slow"),  # not in the window: opens at once
            ):
                assert (await client.post("/v1/alerts", json=body)).status_code == 202
        # exactly one incident once intake has handled every alert: the window holds the rest
        first = await settle(bootstrap, f"{prefix}incidents", 1)
        assert [e.data.object_id for e in first] == ["acc-app"]  # type: ignore[attr-defined]
        ends = datetime.now(UTC) + timedelta(seconds=2)
        shortened = tmp_path / "shortened.yaml"
        shortened.write_text(with_window(ends, began, "2026.11.2"))
        await publish_contract(isolated.settings(), load_contract(shortened), now=datetime.now(UTC))
        events = await settle(bootstrap, f"{prefix}incidents", 2)
    finally:
        stop_services(sp)
    opened = {e.data.object_id: e.data for e in events if isinstance(e.data, IncidentOpenedV1)}
    assert set(opened) == {"acc-app", "mail-01"}
    assert opened["mail-01"].opened_at >= ends
    assert opened["mail-01"].first_alert_at >= ends  # the SLA counts from the window's end


async def test_answered_ids_open_incidents_and_actions_get_a_verdict(
    isolated: Isolated, tmp_path: Path
) -> None:
    """The ids a receiver answers with are the alert events' ids: incidents derive from them."""
    sp = await start_intake(isolated, tmp_path)
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            body = fixture("generic.json")
            body["alerts"][0] |= {"labels": {"instance": "nowhere"}, "fingerprint": "lone"}
            ids = (await client.post("/v1/alerts", json=body)).json()["ids"]
            (event,) = await collect(isolated.infra.bootstrap, f"{isolated.prefix}incidents", 1)
            assert event.id == stable_id("open", uuid.UUID(ids[0]))
            actions = f"/v1/incidents/{event.subject}/actions"
            # the answer is the commands consumer's verdict, with its reason
            confirm = {"action": "confirm", "party": "customer", "actor": "it.head"}
            refused = await client.post(actions, json=confirm)
            assert refused.status_code == 409, refused.text
            assert "cannot confirm an incident that is open" in refused.json()["error"]
            ack = {"action": "acknowledge", "party": "apps", "actor": "duty"}
            assert (await client.post(actions, json=ack)).json()["status"] == "accepted"
            restored = ack | {"action": "restored", "cause": "c"}
            assert (await client.post(actions, json=restored)).status_code == 202
            confirmed = await client.post(actions, json=confirm)  # right after: no race
            assert confirmed.json()["status"] == "accepted", confirmed.text
            unknown = await client.post("/v1/incidents/inc-nope/actions", json=ack)
            assert unknown.status_code == 404
            assert "no incident 'inc-nope'" in unknown.json()["error"]
            events = await settle(isolated.infra.bootstrap, f"{isolated.prefix}incidents", 6)
    finally:
        stop_services(sp)
    assert [e.type for e in events[1:]] == [
        EventType.ACTION_REFUSED,
        EventType.ACTION_ACCEPTED,
        EventType.ACTION_ACCEPTED,
        EventType.ACTION_ACCEPTED,
        EventType.INCIDENT_CLOSED,
    ]


KINDS = ("bytes", "json", "drop", "replace", "deep", "type")


def malformed_corpus(seed: int, per_kind: int) -> list[tuple[str, str, bytes, str]]:
    """(path, kind, body, content type): ``per_kind`` bodies of each kind at every receiver — random
    bytes, wrong JSON, the documented payload with a key dropped or a value replaced, nesting
    too deep, a wrong content type."""
    rng = random.Random(seed)
    receivers = factories.RECEIVER_FIXTURES
    junk: list[Any] = [
        None,
        7,
        -1.5,
        "",
        "x" * 300,
        [],
        {},
        [1, [2, [3]]],
        {"a": {"b": None}},
        2**70,
    ]
    corpus = []
    for path, name in receivers.items():
        for kind in KINDS * per_kind:
            doc = fixture(name)
            content_type = "application/json"
            if kind == "bytes":
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
            elif kind == "json":
                body = json.dumps(rng.choice(junk)).encode()
            elif kind == "drop":
                doc.pop(rng.choice(sorted(doc)))
                body = json.dumps(doc).encode()
            elif kind == "replace":
                doc[rng.choice(sorted(doc))] = rng.choice([*junk[:-1], "not-a-date"])
                body = json.dumps(doc).encode()
            elif kind == "deep":
                n = rng.randrange(40, 3000)
                body = b'{"alerts": ' + b"[" * n + b"]" * n + b"}"
            else:
                body = json.dumps(doc).encode()
                content_type = rng.choice(["text/plain", "application/xml"])
            corpus.append((path, kind, body, content_type))
    return corpus


async def test_fuzz_against_the_real_process(isolated: Isolated, tmp_path: Path) -> None:
    """Malformed bodies of every kind at every receiver of a running intake, eight at a time:
    never a 5xx, intake stays healthy, and the dead-letter topic holds exactly one record per
    refusal. The volume is in-process (tests/unit/test_intake_http.py: 400 bodies per
    receiver); here the point is the real process: its server, its parser limits, its broker."""
    sp = await start_intake(isolated, tmp_path)
    answers: list[tuple[str, int]] = []  # (kind, status)
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            lanes = asyncio.Semaphore(8)

            async def post(path: str, kind: str, body: bytes, content_type: str) -> None:
                async with lanes:
                    response = await client.post(
                        path, content=body, headers={"content-type": content_type}
                    )
                assert response.status_code < 500, (path, body[:200], response.text)
                answers.append((kind, response.status_code))

            corpus = malformed_corpus(seed=4, per_kind=2)
            await asyncio.gather(*(post(*case) for case in corpus))
            assert len(answers) == len(corpus) == 84
            assert (await client.get("/healthz")).status_code == 200
        refused = sum(status >= 400 for _, status in answers)
        letters = await settle(isolated.infra.bootstrap, f"{isolated.prefix}deadletter", refused)
    finally:
        stop_services(sp)
    # only a dropped or replaced key can leave a body the receiver accepts (an optional one)
    assert all(status >= 400 for kind, status in answers if kind not in {"drop", "replace"})
    assert refused > 60
    assert all(isinstance(e.data, DeadLetterV1) and e.data.reason for e in letters)
    origins = {e.data.origin for e in letters if isinstance(e.data, DeadLetterV1)}
    assert len(origins) == 7  # every receiver refused something


async def test_a_header_that_is_not_utf8_is_dead_lettered_and_stalls_nothing(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Anyone who may write alerts.raw may send any bytes as a header value. One record with a
    header that is not UTF-8 must not fail its whole batch (read again for ever: the consumer
    stalled); it is dead-lettered by name, and the alerts around it open their incidents."""
    sp = await start_intake(isolated, tmp_path, BATON_INTAKE_CORRELATION_WINDOW_SECONDS="0")
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    try:
        producer = AIOKafkaProducer(**kafka(bootstrap), enable_idempotence=True)
        await producer.start()
        try:
            for i, headers in enumerate(
                [
                    [("format", b"alertmanager")],
                    [("format", b"\xffalertmanager\xfe"), ("note", b"\xc3\x28")],
                    [("format", b"alertmanager"), ("note", b"\x80")],
                ]
            ):
                raw = fixture("alertmanager.json")
                raw["alerts"][0] |= {"labels": {"service": "mail"}, "fingerprint": f"bytes-{i}"}
                await producer.send_and_wait(
                    f"{prefix}alerts.raw", orjson.dumps(raw), key=b"k", headers=headers
                )
        finally:
            await producer.stop()
        letters = await collect(bootstrap, f"{prefix}deadletter", 1)
        await wait_consumed(
            bootstrap,
            {
                f"{prefix}intake.raw": f"{prefix}alerts.raw",
                f"{prefix}intake.alerts": f"{prefix}alerts",
            },
        )
        facts = await read_topic(bootstrap, f"{prefix}incidents")
    finally:
        stop_services(sp)
    landed = sorted(
        fp
        for e in facts
        for fp in (
            e.data.fingerprints
            if isinstance(e.data, IncidentOpenedV1)
            else [e.data.fingerprint]
            if isinstance(e.data, AlertAttachedV1 | AlertCorrelatedV1)
            else []
        )
    )
    assert landed == ["am:bytes-0", "am:bytes-2"], [e.type.value for e in facts]
    (letter,) = letters
    assert "format" in letter.data_as(DeadLetterV1).reason, letter.data


async def test_an_alert_over_the_message_size_is_refused_by_name_and_the_rest_of_its_group_lands(
    isolated: Isolated, tmp_path: Path
) -> None:
    """An alert too large for the broker was answered 503 for ever (MessageSizeTooLargeError
    read as "Kafka unavailable": Alertmanager retried the group without end, the big alert was
    never kept). Now: 413 naming it, a capped sample dead-lettered, the other alerts kept."""
    sp = await start_intake(isolated, tmp_path)
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    webhook = fixture("alertmanager.json")
    (template,) = webhook["alerts"]
    webhook["alerts"] = [
        {**template, "fingerprint": f"group-{n}", "labels": {**template["labels"], "n": str(n)}}
        for n in range(3)
    ]
    huge = "x" * (2 * 1024 * 1024)  # 2 MiB: over the broker's 1 MiB message.max.bytes
    webhook["alerts"][1]["annotations"] = {**template["annotations"], "description": huge}
    try:
        async with httpx.AsyncClient(
            auth=isolated.auth(), base_url=sp.urls["intake"], timeout=30
        ) as client:
            answer = await client.post("/v1/alerts/alertmanager", json=webhook)
        assert answer.status_code == 413, answer.text[:300]
        assert "alerts[1] (am:group-1)" in answer.json()["error"]
        assert answer.json()["accepted"] == 2
        await wait_consumed(bootstrap, {f"{prefix}intake.alerts": f"{prefix}alerts"})
        kept = await read_topic(bootstrap, f"{prefix}alerts")
        letters = await read_topic(bootstrap, f"{prefix}deadletter")
    finally:
        stop_services(sp)
    assert sorted(e.data_as(AlertReceivedV1).alert.fingerprint for e in kept) == [
        "am:group-0",
        "am:group-2",
    ]
    (letter,) = [e.data_as(DeadLetterV1) for e in letters]
    assert letter.origin == "/v1/alerts/alertmanager"
    assert letter.reason.startswith("alerts[1]: too large to keep")
    assert "cut to its first" in letter.reason  # a capped sample, not 2 MiB
    assert len(letter.payload) < 1024 * 1024


async def test_an_unauthenticated_request_is_refused_before_its_body_is_read(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Issue 25: up to 64 MB of an anonymous request was read before its 401. The headers alone
    are answered now: the client sends them and 1 KB of a 60 MB body, and gets its 401."""
    sp = await start_intake(isolated, tmp_path)
    port = int(sp.urls["intake"].rsplit(":", 1)[1])
    try:
        for path in ("/v1/alerts/alertmanager", "/v1/incidents/inc-x/actions"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: intake\r\ncontent-type: application/json\r\n"
                f"content-length: {60 * 1024 * 1024}\r\n\r\n".encode()
                + b"[" * 1024
            )
            await writer.drain()
            try:
                async with asyncio.timeout(10):
                    status = await reader.readline()
            finally:
                writer.close()
            assert status.startswith(b"HTTP/1.1 401"), (path, status)
    finally:
        stop_services(sp)
