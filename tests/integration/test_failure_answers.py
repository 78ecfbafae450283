"""What a client is told while PostgreSQL is away (a service pointed at a proxy the test cuts;
the shared database stays up): readiness goes 503 and names it, reads answer 503 with
Retry-After (not 500), a change event is refused with 503 (not lost after a 2xx), an action
already in the commands topic is answered 202 pending and applied exactly once when the
database is back. Readiness also goes 503 while a consumer makes no progress."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson

from shared.contract import load_contract
from tests.integration.conftest import Isolated, ServiceProcs, started, stop_services
from tests.integration.helpers import hmac_signed
from tests.integration.proxy import CuttableProxy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"


async def poll(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"

        await asyncio.sleep(0.2)


def api(isolated: Isolated, sp: ServiceProcs, name: str) -> httpx.AsyncClient:
    """A client of service ``name``'s HTTP API with the test's token, quick to give up."""
    return httpx.AsyncClient(auth=isolated.auth(), base_url=sp.urls[name], timeout=15)


def lone_alert(fingerprint: str) -> dict[str, Any]:
    """The generic fixture alert, on a host outside the perimeter, as ``fingerprint``."""
    body: dict[str, Any] = orjson.loads((FIXTURES / "generic.json").read_bytes())
    body["alerts"][0] |= {"labels": {"instance": "nowhere"}, "fingerprint": fingerprint}
    return body


async def lone_incident(
    intake: httpx.AsyncClient, reporting: httpx.AsyncClient, fingerprint: str
) -> str:
    """A generic alert (``fingerprint``) on a host outside the perimeter opens an incident;
    its id once reporting lists it."""
    assert (await intake.post("/v1/alerts", json=lone_alert(fingerprint))).status_code == 202

    async def incident() -> str | None:
        found = (await reporting.get("/v1/incidents")).json()
        return str(found[0]["id"]) if found else None

    return str(await poll(incident, 30, "the incident in reporting"))


async def database_through_proxy(isolated: Isolated) -> CuttableProxy:
    """A proxy in front of the shared PostgreSQL for this test's services (cut or frozen by
    the test), and the settings that make their answers quick to observe."""
    dsn = urlsplit(isolated.dsn)
    proxy = CuttableProxy(dsn.hostname or "127.0.0.1", dsn.port or 5432)
    await proxy.up()
    through_proxy = f"{dsn.username}:{dsn.password}@127.0.0.1:{proxy.port}"
    isolated.env |= {
        "BATON_PG_DSN": dsn._replace(netloc=through_proxy).geturl(),
        "BATON_CONTRACT_PATH": str(FIXTURES / "contract.yaml"),
        "BATON_HEALTH_INTERVAL_SECONDS": "0.5",
        "BATON_READY_TIMEOUT_SECONDS": "2",
        "BATON_INTAKE_ACTION_WAIT_SECONDS": "1",
        "BATON_RETRY_AFTER_SECONDS": "4",
    }
    return proxy


async def test_database_down_is_told_honestly(isolated: Isolated, tmp_path: Path) -> None:
    proxy = await database_through_proxy(isolated)
    sp = await started(isolated, tmp_path, ["intake", "reporting"])
    try:
        intake, reporting = api(isolated, sp, "intake"), api(isolated, sp, "reporting")
        async with intake, reporting:
            for client in (intake, reporting):
                assert (await client.get("/livez")).status_code == 200
                ready = await client.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["checks"] == {
                    "postgresql": "ok",
                    "kafka": "ok",
                    "consumers": "ok",
                }
            incident_id = await lone_incident(intake, reporting, "lone")
            for path in ("/v1/reports/sla", "/v1/reports/monthly"):
                silly = await reporting.get(path, params={"month": "9999-12"})
                assert silly.status_code == 422, silly.text  # was 500: date overflow
                assert "month" in silly.text

            await proxy.down()
            for client in (intake, reporting):
                start = time.monotonic()
                unready = await client.get("/readyz")
                assert time.monotonic() - start < 5  # the checks run together, 2 s each
                assert unready.status_code == 503
                assert unready.json()["checks"]["postgresql"] != "ok"
                healthz = await client.get("/healthz")
                assert healthz.status_code == 503, "/healthz is /readyz's alias"
                assert (await client.get("/livez")).status_code == 200

            for path in ("/v1/reports/sla?month=2026-11", "/v1/incidents"):
                answer = await reporting.get(path)
                assert answer.status_code == 503, (path, answer.text)
                assert answer.headers["retry-after"] == "4"
                assert answer.json()["dependency"] == "postgresql"

            change = (FIXTURES / "pagerduty-change.json").read_bytes()
            headers = {"content-type": "application/json"}
            refused = await intake.post("/v2/change/enqueue", content=change, headers=headers)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "4"

            # Kafka is up: alerts are durable without the database and still accepted
            second = lone_alert("second")
            assert (await intake.post("/v1/alerts", json=second)).status_code == 202

            ack = {"action": "acknowledge", "party": "apps", "actor": "duty"}
            actions = f"/v1/incidents/{incident_id}/actions"
            queued = await intake.post(actions, json=ack)
            assert queued.status_code == 202, queued.text
            assert queued.json()["status"] == "pending"

            await proxy.up()

            async def ready_again() -> bool:
                codes = [(await c.get("/readyz")).status_code for c in (intake, reporting)]
                return codes == [200, 200]

            await poll(ready_again, 60, "ready after the database came back")

            async def acknowledged() -> list[Any] | None:
                got = await reporting.get(f"/v1/incidents/{incident_id}")
                if got.status_code != 200:
                    return None
                accepted = [
                    e
                    for e in got.json()["timeline"]
                    if e["type"] == "baton.incident.action_accepted"
                ]
                return accepted or None

            accepted = await poll(acknowledged, 60, "the queued action applied")
            # the change event was refused, so retrying it now is the client's job
            assert (
                await intake.post("/v2/change/enqueue", content=change, headers=headers)
            ).status_code == 202
            got = (await reporting.get(f"/v1/incidents/{incident_id}")).json()
            again = [e for e in got["timeline"] if e["type"] == "baton.incident.action_accepted"]
            assert len(accepted) == len(again) == 1, "applied exactly once"
            assert got["incident"]["status"] == "acknowledged"
    finally:
        # in a thread: the proxy runs on this loop, and the services' graceful stop needs it
        await asyncio.to_thread(stop_services, sp)
        await proxy.down()


async def test_a_stalled_consumer_makes_the_service_unready(
    isolated: Isolated, tmp_path: Path
) -> None:
    """Reporting's handler hangs on a table lock (what a stuck consumer looks like from
    outside: lag, no progress): /readyz goes 503 naming the partition, the lag is exported per
    partition, and readiness comes back when the consumer moves again."""
    isolated.env |= {
        "BATON_CONTRACT_PATH": str(FIXTURES / "contract.yaml"),
        "BATON_HEALTH_INTERVAL_SECONDS": "0.3",
        "BATON_READY_STALL_SECONDS": "1.5",
    }
    sp = await started(isolated, tmp_path, ["intake", "reporting"])
    try:
        intake, reporting = api(isolated, sp, "intake"), api(isolated, sp, "reporting")
        locker = await asyncpg.connect(isolated.dsn)
        async with intake, reporting:
            try:
                lock = locker.transaction()
                await lock.start()
                await locker.execute("LOCK TABLE reporting.incident_events IN EXCLUSIVE MODE")
                for i in range(6):  # distinct fingerprints: six incidents, six partitions' worth
                    alert = lone_alert(f"f{i}")
                    assert (await intake.post("/v1/alerts", json=alert)).status_code == 202

                async def stalled() -> dict[str, Any] | None:
                    answer = await reporting.get("/readyz")
                    return answer.json() if answer.status_code == 503 else None

                unready = await poll(stalled, 30, "reporting unready while stuck")
                assert unready["checks"]["postgresql"] == "ok"
                assert unready["checks"]["consumers"] != "ok"
                (first, *_) = unready["stalled"]
                assert first["group"] == f"{isolated.prefix}reporting"
                assert first["lag"] > 0
                assert first["stalled_seconds"] >= 1.5
                metrics = (await reporting.get("/metrics")).text
                assert "baton_consumer_lag{" in metrics
                assert 'baton_dependency_up{dependency="postgresql",service="reporting"} 1.0' in (
                    metrics
                )
            finally:
                await lock.rollback()
                await locker.close()

            async def ready() -> bool:
                return (await reporting.get("/readyz")).status_code == 200

            await poll(ready, 30, "reporting ready again once it moves")
    finally:
        await asyncio.to_thread(stop_services, sp)


FROZEN_BOUND = 5.0  # BATON_HTTP_REQUEST_TIMEOUT_SECONDS for the frozen-database test
FROZEN_ANSWER = FROZEN_BOUND + 1.5  # the answer's bound, with room for a busy machine
HMAC_SECRET = "zabbix-frozen-secret"


async def test_a_frozen_database_is_answered_within_the_bound_on_every_route(
    isolated: Isolated, tmp_path: Path
) -> None:
    """PostgreSQL frozen (connections open, nothing answered: what SIGSTOP does) used to hold a
    request on an open connection for the whole outage (75 s seen: issue 25). Every route that
    reads or writes the database now answers within ``BATON_HTTP_REQUEST_TIMEOUT_SECONDS``:
    503 + Retry-After, or 202 pending for an action already durable in Kafka."""
    proxy = await database_through_proxy(isolated)
    isolated.env |= {
        "BATON_PG_COMMAND_TIMEOUT_SECONDS": "2",
        "BATON_HTTP_REQUEST_TIMEOUT_SECONDS": str(FROZEN_BOUND),
        "BATON_INTAKE_HMAC_SECRETS": orjson.dumps({"zabbix": HMAC_SECRET}).decode(),
    }
    sp = await started(isolated, tmp_path, ["intake", "reporting", "sla-clock"])
    try:
        clients = {
            name: httpx.AsyncClient(auth=isolated.auth(), base_url=url, timeout=30)
            for name, url in sp.urls.items()
        }
        intake, reporting, sla = clients["intake"], clients["reporting"], clients["sla-clock"]
        signer = httpx.AsyncClient(base_url=sp.urls["intake"], timeout=30)  # HMAC, no token
        incident_id = await lone_incident(intake, reporting, "frozen")
        zabbix = (FIXTURES / "zabbix-problem.json").read_bytes()
        signed = hmac_signed(HMAC_SECRET, zabbix)
        change = (FIXTURES / "pagerduty-change.json").read_bytes()
        json_type = {"content-type": "application/json"}
        ack = {"action": "acknowledge", "party": "apps", "actor": "duty"}
        object_id = load_contract(FIXTURES / "contract.yaml").objects[0].id

        proxy.freeze()
        routes: list[tuple[str, httpx.AsyncClient, str, str, dict[str, Any]]] = [
            ("GET", reporting, "/v1/incidents", "503", {}),
            ("GET", reporting, f"/v1/incidents/{incident_id}", "503", {}),
            ("GET", reporting, "/v1/reports/sla?month=2026-11", "503", {}),
            ("GET", sla, "/v1/checkins", "503", {}),
            ("GET", intake, f"/v1/objects/{object_id}/changes", "503", {}),
            (
                "POST",
                intake,
                "/v2/change/enqueue",
                "503",
                {"content": change, "headers": json_type},
            ),
            ("POST", signer, "/v1/alerts/zabbix", "503", {"content": zabbix, "headers": signed}),
            ("POST", intake, f"/v1/incidents/{incident_id}/actions", "202", {"json": ack}),
        ]

        async def timed(
            method: str, client: httpx.AsyncClient, path: str, kwargs: dict[str, Any]
        ) -> tuple[httpx.Response, float]:
            began = time.monotonic()
            answer = await client.request(method, path, **kwargs)
            return answer, time.monotonic() - began

        # twice: the second round meets the connections the first one left frozen
        for _ in range(2):
            answers = await asyncio.gather(
                *(timed(method, client, path, kwargs) for method, client, path, _, kwargs in routes)
            )
            for (_, _, path, want, _), (answer, seconds) in zip(routes, answers, strict=True):
                assert seconds < FROZEN_ANSWER, (
                    f"{path}: {answer.status_code} after {seconds:.1f} s"
                )
                assert str(answer.status_code) == want, (path, answer.text)
                if want == "503":
                    assert answer.headers["retry-after"] == "4", path
                    assert "may have been kept" in answer.json()["error"], path
        proxy.thaw()

        async def ready_again() -> bool:
            codes = [(await c.get("/readyz")).status_code for c in clients.values()]
            return codes == [200] * len(codes)

        await poll(ready_again, 60, "ready after the database thawed")
        assert (await reporting.get("/v1/incidents")).status_code == 200
        for client in (*clients.values(), signer):
            await client.aclose()
    finally:
        proxy.thaw()
        await asyncio.to_thread(stop_services, sp)
        await proxy.down()
