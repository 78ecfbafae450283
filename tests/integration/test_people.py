"""People reached (issue 22's "Done when"), on the real broker, database and SMTP server.

The four services run with the example contract (every party's `contact` is a mailbox); the
router sends e-mail through a real Mailpit (the stack's, or one of the test's own that it can
stop), the test reads the messages over Mailpit's HTTP API and opens the acknowledge link in
real Chromium (Playwright driving the Debian `chromium`), as a person on a phone would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import async_playwright

from baton import notify_bench
from baton.stack import free_ports, status
from shared import links
from shared.events import ActionKind, EventType
from tests.integration.conftest import Isolated, ServiceProcs, started, stop_services
from tests.integration.helpers import alertmanager_payload, collect_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contract"
PRIMARY_MAILBOX = "duty@nomadsysops.example"  # sysops owns the DBMS layer of os-pg-01
PG_DOWN = {"alertname": "PostgresDown", "service": "postgres", "instance": "srv-pg-01"}


def _sender(smtp: int) -> str:
    url = f"mailto://127.0.0.1:{smtp}?from=baton@baton.local&to={{address}}&mode=insecure"
    return json.dumps({"email": url})


@contextlib.contextmanager
def own_mailpit(tmp: Path, ports: tuple[int, int] | None = None) -> Iterator[tuple[int, int]]:
    """A Mailpit of the test's own (SMTP, HTTP ports), stopped on exit."""
    exe = Path(sys.executable).parent / "mailpit"
    if not exe.exists():
        pytest.fail("mailpit is missing from .venv/bin: `make tools` builds it")
    smtp, http = ports or tuple(free_ports(2))
    argv = [str(exe), "--smtp", f"127.0.0.1:{smtp}", "--listen", f"127.0.0.1:{http}"]
    argv += ["--database", str(tmp / f"mailpit-{http}.db"), "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{http}/api/v1/messages").status_code == 200:
                    break
            if proc.poll() is not None:
                pytest.fail("mailpit exited at start")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.05)
        yield smtp, http
    finally:
        proc.terminate()
        proc.wait(10)


async def _messages(web: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=web, timeout=10) as mp:
        found: list[dict[str, Any]] = (
            await mp.get("/api/v1/messages", params={"limit": 1000})
        ).json()["messages"]
        return found


async def _mail(web: str, to: str, incident: str, subject: str, timeout: float = 90) -> str:
    """The text of the e-mail to ``to`` about ``incident`` whose subject holds ``subject``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(base_url=web, timeout=10) as mp:
        while loop.time() < deadline:
            for msg in await _messages(web):
                mine = any(a["Address"] == to for a in msg["To"])
                if mine and incident in msg["Subject"] and subject in msg["Subject"]:
                    text: str = (await mp.get(f"/api/v1/message/{msg['ID']}")).json()["Text"]
                    return text
            await asyncio.sleep(0.5)
    pytest.fail(f"no e-mail to {to} about {incident} ({subject}) in {timeout}s")


def _link(text: str, label: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(label) and "/v1/links/" in line:
            return line.rsplit(" ", 1)[1].strip()
    pytest.fail(f"no {label!r} link in:\n{text}")


async def _incident(client: httpx.AsyncClient, reporting: str, timeout: float = 60) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        rows = (await client.get(f"{reporting}/v1/incidents")).json()
        if rows:
            return str(rows[0]["id"])
        await asyncio.sleep(0.3)
    pytest.fail("no incident opened")


async def _response_clock(client: httpx.AsyncClient, reporting: str, incident: str) -> Any:
    doc = (await client.get(f"{reporting}/v1/incidents/{incident}")).json()
    return next((c for c in doc["clocks"] if c["clock"] == "response"), None)


LINKS_BASE = "http://baton.invalid"  # the operator's address of intake; the test maps it


@contextlib.asynccontextmanager
async def _pipeline(isolated: Isolated, tmp: Path, smtp: int) -> AsyncIterator[ServiceProcs]:
    isolated.env |= {
        "BATON_CONTRACT_PATH": str(EXAMPLE),
        "BATON_NOTIFY_SENDERS": _sender(smtp),
        "BATON_NOTIFY_BACKOFF_SECONDS": "0.5",
        "BATON_NOTIFY_TICK_SECONDS": "0.2",
        "BATON_LINKS_BASE_URL": LINKS_BASE,
    }
    sp = await started(isolated, tmp)
    try:
        yield sp
    finally:
        stop_services(sp)


async def test_an_emailed_acknowledge_link_pressed_in_chromium_stops_the_response_clock(
    isolated: Isolated, tmp_path: Path
) -> None:
    relay = status().get("mailpit")
    if relay is None or not relay["running"]:
        pytest.fail("the stack's Mailpit is not running: `baton stack up --infra-only` starts it")
    smtp = int(relay["smtp"].rsplit(":", 1)[1])
    browser_path = shutil.which("chromium")
    assert browser_path is not None, "the Debian chromium is needed (make tools)"
    now = datetime.now(UTC)
    async with (
        _pipeline(isolated, tmp_path, smtp) as sp,
        httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client,
    ):
        body = alertmanager_payload(now, labels={**PG_DOWN, "severity": "critical"})
        (
            await client.post(f"{sp.urls['intake']}/v1/alerts/alertmanager", json=body)
        ).raise_for_status()
        incident = await _incident(client, sp.urls["reporting"])
        text = await _mail(relay["web"], PRIMARY_MAILBOX, incident, "(primary)")
        assert "Respond by:" in text
        assert "Asia/Almaty" in text
        ack = _link(text, "Acknowledge")
        assert ack.startswith(f"{LINKS_BASE}/v1/links/")
        ack = sp.urls["intake"] + ack.removeprefix(LINKS_BASE)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
                shown = await page.goto(ack)
                assert shown is not None
                assert shown.status == 200
                assert incident in await page.inner_text("body")
                # opening the link did nothing: the response clock still runs
                await asyncio.sleep(1.0)
                clock = await _response_clock(client, sp.urls["reporting"], incident)
                assert clock is None or clock["met"] is None, clock
                async with page.expect_navigation():
                    await page.click("button")
                assert "Done" in await page.inner_text("h1")
            finally:
                await browser.close()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:
            clock = await _response_clock(client, sp.urls["reporting"], incident)
            if clock is not None and clock["met"] is True:
                break
            assert loop.time() < deadline, f"the response clock did not stop as met: {clock}"
            await asyncio.sleep(0.5)

        # each message's outcome is on the incident's timeline
        while True:
            doc = (await client.get(f"{sp.urls['reporting']}/v1/incidents/{incident}")).json()
            told = [e["data"] for e in doc["timeline"] if e["type"] == EventType.NOTIFICATION]
            if any(t["recipient"] == "sysops/mailbox" and t["outcome"] == "sent" for t in told):
                break
            assert loop.time() < deadline + 30, doc["timeline"]
            await asyncio.sleep(0.5)
        # the same link pressed again is refused
        again = await client.post(ack)
        assert again.status_code == 410
        assert "used already" in again.text
        # one character changed is refused
        token = ack.rsplit("/", 1)[1]
        i = len(token) - 5
        forged = ack[: -len(token)] + token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        refused = await client.post(forged)
        assert refused.status_code == 403
        assert "altered" in refused.text
        assert "cannot act" in (await client.get(forged)).text
        # an authentic link for an action the party's part does not allow: the API's 403
        secret = isolated.credentials().links_secret
        not_mine = links.sign(
            secret,
            links.Claims(
                incident=incident,
                party="hw",  # checks the hardware layer; only the owner reports restored
                action=ActionKind.RESTORED,
                nonce="not-mine",
                expires=int((now + timedelta(hours=1)).timestamp()),
            ),
        )
        forbidden = await client.post(f"{sp.urls['intake']}/v1/links/{not_mine}")
        assert forbidden.status_code == 403
        assert "may not restored" in forbidden.text
        # an authentic link that expired is refused
        expired = links.sign(
            isolated.credentials().links_secret,
            links.Claims(
                incident=incident,
                party="sysops",
                action=ActionKind.RESTORED,
                nonce="expired-test",
                expires=int((now - timedelta(minutes=1)).timestamp()),
            ),
        )
        late = await client.post(f"{sp.urls['intake']}/v1/links/{expired}")
        assert late.status_code == 410
        assert "expired" in late.text
        metrics = (await client.get(f"{sp.urls['intake']}/metrics")).text
        assert 'baton_intake_link_refusals_total{reason="used"} 1.0' in metrics
        assert 'baton_intake_link_refusals_total{reason="forged"} 2.0' in metrics
        assert "expired-test" not in metrics
        assert token not in metrics


async def test_with_the_smtp_server_stopped_messages_wait_and_are_all_sent_when_it_returns(
    isolated: Isolated, tmp_path: Path
) -> None:
    smtp, web = free_ports(2)
    async with (
        _pipeline(isolated, tmp_path, smtp) as sp,
        httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client,
    ):
        now = datetime.now(UTC)
        body = alertmanager_payload(now, labels={**PG_DOWN, "severity": "critical"})
        posted = asyncio.get_running_loop().time()
        since = datetime.now(UTC) - timedelta(seconds=1)
        for _ in range(3):  # the alert and two repeats of it (monitoring re-sends)
            (
                await client.post(f"{sp.urls['intake']}/v1/alerts/alertmanager", json=body)
            ).raise_for_status()
        # assignments are not delayed by the relay being away
        events = await collect_until(
            isolated.infra.bootstrap,
            f"{isolated.prefix}assignments",
            lambda evs: any(e.type == EventType.ASSIGNMENT_ISSUED for e in evs),
            timeout=60,
        )
        took = asyncio.get_running_loop().time() - posted
        assert events
        conn = await asyncpg.connect(isolated.dsn)
        try:
            query = "SELECT state, attempts, last_error FROM router.notifications"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while True:
                rows = await conn.fetch(query)
                if rows and all(r["attempts"] >= 2 for r in rows):
                    break  # every message tried and retried, none sent
                assert loop.time() < deadline, rows
                await asyncio.sleep(0.3)
            assert {r["state"] for r in rows} <= {"queued", "sending"}
            assert all(r["last_error"] for r in rows if r["state"] == "queued")
            with own_mailpit(tmp_path, (smtp, web)):
                deadline = loop.time() + 90
                while True:
                    rows = await conn.fetch(query)
                    if all(r["state"] == "sent" for r in rows):
                        break
                    assert loop.time() < deadline, rows
                    await asyncio.sleep(0.5)
                delivered = await _messages(f"http://127.0.0.1:{web}")
                # the bench's report of the same (baton bench --smtp-outage)
                told = await notify_bench.measure(isolated.dsn, f"http://127.0.0.1:{web}", since)
            total = await conn.fetchval("SELECT count(*) FROM router.notifications")
            distinct = await conn.fetchval(
                "SELECT count(DISTINCT (recipient, channel, subject)) FROM router.notifications"
            )
        finally:
            await conn.close()
        assert len(delivered) == total  # none lost, none doubled
        assert distinct == total  # the alert's repeats sent no repeated message
        assert (told.written, told.sent, told.mailpit_received) == (total, total, total)
        assert (told.lost, told.repeated_rows, told.mailpit_doubled) == (0, 0, 0)
        assert took < 30, f"the first assignment took {took:.1f}s with the relay down"


async def test_a_message_that_fails_every_try_is_failed_and_the_coordinator_is_told(
    isolated: Isolated, tmp_path: Path
) -> None:
    """No relay at all, two tries: every message ends ``failed`` with its error, and for each one
    the coordinator gets a message of its own (``delivery_failed``) naming who was not reached."""
    (smtp,) = free_ports(1)
    isolated.env["BATON_NOTIFY_MAX_ATTEMPTS"] = "2"
    async with (
        _pipeline(isolated, tmp_path, smtp) as sp,
        httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client,
    ):
        body = alertmanager_payload(datetime.now(UTC), labels={**PG_DOWN, "severity": "critical"})
        alerts = f"{sp.urls['intake']}/v1/alerts/alertmanager"
        (await client.post(alerts, json=body)).raise_for_status()
        conn = await asyncpg.connect(isolated.dsn)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while True:
                rows = await conn.fetch(
                    "SELECT id, kind, recipient, state, attempts, last_error, body"
                    " FROM router.notifications"
                )
                first = [r for r in rows if r["kind"] != "delivery_failed"]
                told = [r for r in rows if r["kind"] == "delivery_failed"]
                settled = all(r["state"] == "failed" for r in rows)
                # the coordinator's own mailbox failing has no other channel to tell it by
                others = [r for r in first if r["recipient"] != "appint/mailbox"]
                if first and settled and len(told) == len(others):
                    break
                assert loop.time() < deadline, [dict(r) for r in rows]
                await asyncio.sleep(0.3)
            metrics = (await client.get(f"{sp.urls['router']}/metrics")).text
        finally:
            await conn.close()
    assert all(r["attempts"] == 2 for r in first)
    assert all(r["last_error"] for r in rows)
    assert {r["recipient"] for r in told} == {"appint/mailbox"}  # the coordinator's mailbox
    failed_primary = next(r for r in first if r["recipient"] == "sysops/mailbox")
    assert any("could not deliver a message to sysops/mailbox" in r["body"] for r in told)
    assert failed_primary["state"] == "failed"
    assert 'baton_notifications_total{channel="email",outcome="failed"}' in metrics


@contextlib.asynccontextmanager
async def _silent_relay(port: int) -> AsyncIterator[list[asyncio.StreamWriter]]:
    """A TCP server on ``port`` that takes connections and never answers (an SMTP relay hung)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    try:
        yield held
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def test_a_hung_relay_delays_no_assignment(isolated: Isolated, tmp_path: Path) -> None:
    """While the worker waits on a relay that never answers, a new incident's assignment is
    published at once: sending to people is not on the routing path."""
    (smtp,) = free_ports(1)
    isolated.env["BATON_NOTIFY_SEND_TIMEOUT_SECONDS"] = "25"
    async with (
        _silent_relay(smtp) as held,
        _pipeline(isolated, tmp_path, smtp) as sp,
        httpx.AsyncClient(auth=isolated.auth(), timeout=30) as client,
    ):
        alerts = f"{sp.urls['intake']}/v1/alerts/alertmanager"
        now = datetime.now(UTC)
        first = alertmanager_payload(now, labels={**PG_DOWN, "severity": "critical"})
        (await client.post(alerts, json=first)).raise_for_status()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not held:  # the worker is now stuck on the relay
            assert loop.time() < deadline, "the worker never reached the relay"
            await asyncio.sleep(0.1)
        printer = {"alertname": "PrinterOffline", "instance": "prn-branch-7", "severity": "warning"}
        posted = loop.time()
        (
            await client.post(alerts, json=alertmanager_payload(now, labels=printer))
        ).raise_for_status()

        def two_incidents(events: list[Any]) -> bool:
            issued = {e.subject for e in events if e.type == EventType.ASSIGNMENT_ISSUED}
            return len(issued) >= 2

        await collect_until(
            isolated.infra.bootstrap, f"{isolated.prefix}assignments", two_incidents, timeout=60
        )
        took = loop.time() - posted
        print(f"second incident's assignment {took:.2f}s after its alert, relay hung")
        assert held  # the relay still holds the worker's connections
        assert took < 20, f"the assignment waited {took:.1f}s on the hung relay"
