"""What a client is told while Kafka is away: intake on a broker of its own (the shared one stays
up for everyone else), first frozen (SIGSTOP: connections stay open and nothing answers — the case
in which requests used to hang past clients' 15 s timeouts), then killed (connections refused).

Each alert, action, check-in ping and malformed body gets its answer within the configured bound
(``BATON_PUBLISH_TIMEOUT_SECONDS`` plus a second): 503 with ``Retry-After`` for what Kafka did not
take, the refusal (4xx naming the field) for a malformed body, never 202 for what is not durable;
every alert that got 202 is in the alerts topic. Readiness goes 503 naming Kafka and comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from baton import credentials, stack
from shared.checkins import Duty, expectations
from shared.contract import load_contract
from shared.events import AlertReceivedV1
from shared.topic_admin import ensure_topics
from tests.chaos.harness import read_topic
from tests.integration.conftest import Isolated, start_services, wait_healthy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
PUBLISH_BOUND = 2.0  # BATON_PUBLISH_TIMEOUT_SECONDS for this test
ANSWER_BOUND = PUBLISH_BOUND + 1.5  # the answer's bound, with room for a busy machine
RETRY_AFTER = "3"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[stack.StackPaths]:
    paths = stack.stack_paths({stack.STACK_DIR_ENV: str(tmp_path / "broker")})
    stack._prepare(paths)
    ports = stack.StackPorts.free()
    (paths.root / stack.PORTS_FILE).write_bytes(orjson.dumps(ports.to_json()))
    try:
        creds = credentials.ensure(paths.root, [])  # its own admin and service users
        stack.start_kafka(paths, stack.fetch_kafka(), timeout=90, ports=ports, creds=creds)
        yield paths
    finally:
        pid = stack._running_pid(paths.pidfile("kafka"))
        if pid is not None:
            os.kill(pid, signal.SIGKILL)  # a frozen broker takes no SIGTERM; nothing to keep


def alert(fingerprint: str) -> dict[str, Any]:
    body = orjson.loads((FIXTURES / "generic.json").read_bytes())
    body["alerts"][0] |= {"labels": {"instance": "nowhere"}, "fingerprint": fingerprint}
    return dict(body)


async def timed_post(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    began = time.monotonic()
    answer = await client.post(path, **kwargs)
    seconds = time.monotonic() - began
    assert seconds < ANSWER_BOUND, f"{path}: answered {answer.status_code} after {seconds:.1f} s"
    return answer


def refused_for_kafka(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == RETRY_AFTER
    assert answer.json()["dependency"] == "kafka"


async def poll(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.2)
    return found


async def test_kafka_down_is_answered_503_in_time_and_nothing_unkept_is_202(
    isolated: Isolated, own_broker: stack.StackPaths, tmp_path: Path
) -> None:
    ports, creds = stack.stack_ports(own_broker), stack.stack_credentials(own_broker)
    bootstrap = stack.kafka_client(ports, creds)
    await ensure_topics(bootstrap, isolated.prefix)
    isolated.env |= stack.kafka_env(ports, creds)
    isolated.env |= {
        "BATON_CONTRACT_PATH": str(FIXTURES / "contract.yaml"),
        "BATON_PUBLISH_TIMEOUT_SECONDS": str(PUBLISH_BOUND),
        "BATON_RETRY_AFTER_SECONDS": RETRY_AFTER,
        "BATON_HEALTH_INTERVAL_SECONDS": "0.5",
        "BATON_READY_TIMEOUT_SECONDS": "1",
        "BATON_INTAKE_ACTION_WAIT_SECONDS": "1",
    }
    sp = start_services(isolated, tmp_path, ["intake", "sla-clock"])
    contract = load_contract(FIXTURES / "contract.yaml")
    secret = isolated.credentials().checkin_secret
    (run,) = [e for e in expectations(contract, secret) if e.duty is Duty.RUN]
    kafka = stack._running_pid(own_broker.pidfile("kafka"))
    assert kafka is not None
    accepted, refused = [], []
    try:
        await wait_healthy(sp)
        async with httpx.AsyncClient(
            base_url=sp.urls["intake"], timeout=20, auth=isolated.auth()
        ) as intake:
            assert (await timed_post(intake, "/v1/alerts", json=alert("before"))).status_code == 202
            accepted.append("before")

            async def incident() -> str | None:
                conn = await asyncpg.connect(isolated.dsn)
                try:
                    found = await conn.fetchval("SELECT id FROM intake.incidents LIMIT 1")
                finally:
                    await conn.close()
                return str(found) if found else None

            incident_id = await poll(incident, 30, "the incident opened")

            # -- frozen: the first request meets a broker that takes the bytes and never answers;
            # a malformed body beside it, and readiness polled meanwhile: each waits on its own
            os.kill(kafka, signal.SIGSTOP)

            async def unready() -> dict[str, Any] | None:
                answer = await intake.get("/readyz")
                return answer.json() if answer.status_code == 503 else None

            first, malformed, unready_answer = await asyncio.gather(
                timed_post(intake, "/v1/alerts", json=alert("frozen-1")),
                timed_post(intake, "/v1/alerts", json={"alerts": [{"status": "x"}]}),
                poll(unready, 10, "/readyz 503"),
            )
            refused_for_kafka(first)
            refused.append("frozen-1")
            assert malformed.status_code == 422, malformed.text
            assert "fingerprint" in malformed.text
            checks = unready_answer["checks"]
            assert checks["kafka"] != "ok", checks
            assert (await intake.get("/livez")).status_code == 200
            ack = {"action": "acknowledge", "party": "apps", "actor": "duty"}
            *frozen, action = await asyncio.gather(
                *(timed_post(intake, "/v1/alerts", json=alert(f"frozen-{n}")) for n in range(2, 6)),
                timed_post(intake, f"/v1/incidents/{incident_id}/actions", json=ack),
            )
            for n, answer in enumerate(frozen, start=2):
                refused_for_kafka(answer)
                refused.append(f"frozen-{n}")
            refused_for_kafka(action)
            # sla-clock's ping publish is bounded the same way (it hung 30-39 s: issue 25)
            ping = await timed_post(intake, f"{sp.urls['sla-clock']}/ping/{run.key}")
            assert ping.status_code == 503, ping.text
            assert ping.headers["retry-after"] == RETRY_AFTER

            # -- back: ready again, accepted again
            os.kill(kafka, signal.SIGCONT)

            async def ready() -> bool:
                return (await intake.get("/readyz")).status_code == 200

            await poll(ready, 30, "/readyz 200 after the broker came back")
            assert (await timed_post(intake, "/v1/alerts", json=alert("after"))).status_code == 202
            accepted.append("after")
            alerts = await read_topic(bootstrap, f"{isolated.prefix}alerts")
            kept = {
                str(e.data.alert.fingerprint) for e in alerts if isinstance(e.data, AlertReceivedV1)
            }

            # -- killed: connections refused
            os.kill(kafka, signal.SIGKILL)
            for answer in await asyncio.gather(
                timed_post(intake, "/v1/alerts", json=alert("killed")),
                timed_post(intake, f"/v1/incidents/{incident_id}/actions", json=ack),
            ):
                refused_for_kafka(answer)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(kafka, signal.SIGCONT)
        # not under test, and a graceful stop waits out its producer against a dead broker (30 s)
        for proc in sp.procs.values():
            proc.kill()
            proc.wait(30)
    assert {f"nagios:{fp}" for fp in accepted} <= kept, "a 202 for an alert Kafka does not hold"
    late = kept & {f"nagios:{fp}" for fp in refused}
    print(f"kafka down: {len(refused)} refused, of which in the topic after all: {len(late)}")
