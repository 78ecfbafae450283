"""Webhook push from the real router process: signed, retried with backoff, and dead-lettered
with the coordinator told when the endpoint stays down."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import orjson
import pytest
import yaml
from router import webhook

from shared.events import AssignmentEscalatedV3, CheckOpenedV2, EscalationReason, parse_event
from tests.integration.conftest import (
    Isolated,
    free_port,
    start_services,
    stop_services,
    wait_healthy,
)
from tests.integration.helpers import collect
from tests.integration.test_routing import opened, publish
from tests.local_http import serving

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"hw": "hw-hook-secret", "osdb": "osdb-hook-secret"}
FAILURES_BEFORE_SUCCESS = 2


class Receiver(BaseHTTPRequestHandler):
    """hw's endpoint: refuses the first pushes with 503, then takes them."""

    received: ClassVar[list[tuple[dict[str, str], bytes, int]]] = []
    taken: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        status = 503 if len(Receiver.received) < FAILURES_BEFORE_SUCCESS else 200
        Receiver.received.append((dict(self.headers.items()), body, status))
        if status == 200:
            Receiver.taken.set()
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    Receiver.taken = threading.Event()
    with serving(Receiver) as url:
        yield f"{url}/baton/hw"


async def test_pushes_are_signed_retried_and_dead_lettered_with_the_coordinator_told(
    isolated: Isolated, tmp_path: Path, receiver: str
) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "minimal" / "contract.yaml").read_text())
    doc["parties"]["hw"]["contact"] = receiver
    doc["parties"]["osdb"]["contact"] = f"http://127.0.0.1:{free_port()}/nobody-listens"
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {
        **isolated.env,
        "BATON_CONTRACT_PATH": str(contract),
        "BATON_ROUTER_TICK_SECONDS": "0.2",
        "BATON_ROUTER_WEBHOOK_SECRETS": orjson.dumps(SECRETS).decode(),
        "BATON_ROUTER_WEBHOOK_BACKOFF_SECONDS": "0.3",
        "BATON_ROUTER_WEBHOOK_MAX_ATTEMPTS": "3",
    }
    bootstrap, prefix = isolated.infra.bootstrap, isolated.prefix
    incident = f"inc-{uuid.uuid4().hex[:12]}"
    sp = start_services(
        Isolated(infra=isolated.infra, prefix=prefix, dsn=isolated.dsn, env=env),
        tmp_path / "router",
        ["router"],
    )
    try:
        await wait_healthy(sp)
        await publish(bootstrap, f"{prefix}incidents", opened(incident, datetime.now(UTC)))
        # osdb's two messages (its assignment, its OS check) fail 3 times each: two dead
        # letters and two escalations to the coordinator, besides the 6 routing events
        events = await collect(bootstrap, f"{prefix}assignments", 8, timeout=60)
        dead = await collect(bootstrap, f"{prefix}deadletter", 2, timeout=30)
        assert await asyncio.to_thread(Receiver.taken.wait, 30), Receiver.received
    finally:
        stop_services(sp)

    # hw: its one message (the hardware check), pushed until taken, signed every time
    assert [status for *_, status in Receiver.received] == [503, 503, 200]
    ids = set()
    for headers, body, _ in Receiver.received:
        assert webhook.verify(SECRETS["hw"], headers, body, datetime.now(UTC), timedelta(minutes=5))
        assert not webhook.verify(
            SECRETS["osdb"], headers, body, datetime.now(UTC), timedelta(minutes=5)
        )
        event = parse_event(body)
        assert isinstance(event.data, CheckOpenedV2)
        assert event.data.party == "hw"
        ids.add(headers[webhook.EVENT_ID])
    assert len(ids) == 1

    failed = [e.data for e in events if isinstance(e.data, AssignmentEscalatedV3)]
    assert [(d.reason, d.party, d.coordinator) for d in failed] == [
        (EscalationReason.DELIVERY_FAILED, "osdb", "apps")
    ] * 2
    reasons = [d.data.reason for d in dead]  # type: ignore[attr-defined]
    assert all("webhook push to osdb failed 3 times" in r for r in reasons), reasons
