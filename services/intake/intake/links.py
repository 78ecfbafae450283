"""Action links' pages: ``GET /v1/links/{token}`` shows, ``POST`` acts (ADR 0032).

- **GET never acts.** Mail scanners and link previews fetch every URL in a message; the page
  they get shows the incident (summary, object and place, status, who is on it, the contract's
  deadlines with the time left) and one button. Nothing is recorded but the view.
- **POST acts once, as the link's party, by the API's rules.** The link is checked
  (``shared.links.verify``: signature, expiry), then remembered as used (the replay memory the
  signed receivers use, so every intake instance knows it); the action goes to the commands
  topic as a ``PartyActionV2`` whose id is the link's own — the commands consumer decides it
  exactly as an HTTP action (403 with the reason when the party's part no longer allows it,
  409 for the incident's state) and the page shows that verdict.
- **Refusals are recorded**: a forged, altered, malformed, expired or reused link answers a
  page that says why (403, or 410 for expired and used) and counts in
  ``baton_intake_link_refusals_total{reason}``; the token is never logged (its MAC is a
  credential until it expires).
- Plain HTML with a viewport and one form: a phone shows it, nothing to build.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from aiokafka.errors import KafkaError
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from prometheus_client import CollectorRegistry, Counter

from intake import store
from intake.incidents import IncidentState
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.events import (
    AccessActionV1,
    AccessStep,
    ActionKind,
    Envelope,
    PartyActionV2,
    make_event,
    stable_id,
)
from shared.http import Unavailable
from shared.links import Claims, LinkRefused, mac_of, verify
from shared.settings import Settings

log = logging.getLogger("intake.links")

VERBS = {
    ActionKind.ACKNOWLEDGE: "Acknowledge: I take it",
    ActionKind.RESTORED: "Report the service restored",
    ActionKind.CONFIRM: "Confirm: it works again",
    ActionKind.REJECT: "Reject: it still does not work",
}

STEP_VERBS = {AccessStep.APPROVE: "Approve", AccessStep.GRANT: "Grant"}


class LinkHost(Protocol):
    """What the pages need of intake."""

    settings: Settings

    @property
    def contract(self) -> Contract: ...
    def now(self) -> datetime: ...
    async def incident(self, incident_id: str) -> IncidentState | None: ...
    async def use(self, mac: str, expires_at: datetime, now: datetime) -> bool: ...
    async def forget(self, mac: str) -> None: ...
    async def send(self, command: Envelope) -> None: ...
    async def verdict(self, command_id: Any, party: str) -> tuple[int, str] | None: ...


class ServiceHost:
    """``LinkHost`` over intake's runtime: its pool, its commands topic, its verdicts."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.settings = service.rt.settings

    @property
    def contract(self) -> Contract:
        return self.service.intake.contract  # type: ignore[no-any-return]

    def now(self) -> datetime:
        return self.service.rt.clock.now()  # type: ignore[no-any-return]

    async def incident(self, incident_id: str) -> IncidentState | None:
        async with self.service.rt.pool.acquire() as conn:
            return await store.load(conn, incident_id)

    async def use(self, mac: str, expires_at: datetime, now: datetime) -> bool:
        async with self.service.rt.pool.acquire() as conn:
            return await store.first_use(conn, f"link:{mac}", expires_at, now)

    async def forget(self, mac: str) -> None:
        async with self.service.rt.pool.acquire() as conn:
            await conn.execute("DELETE FROM seen_signatures WHERE signature = $1", f"link:{mac}")

    async def send(self, command: Envelope) -> None:
        """Durable in the commands topic, or ``Unavailable`` (as the action API's publish)."""
        if self.service.rt.health.kafka_down:
            raise Unavailable("kafka", "unreachable at the last health check")
        try:
            async with asyncio.timeout(self.settings.publish_timeout_seconds):
                await self.service.publish("commands", command, None)
        except TimeoutError:
            raise Unavailable("kafka", "no acknowledgement in time") from None
        except KafkaError as exc:
            raise Unavailable("kafka", type(exc).__name__) from None

    async def verdict(self, command_id: Any, party: str) -> tuple[int, str] | None:
        """The verdict on ``party``'s command (looked up with its party: ADR 36)."""
        found = await self.service.await_outcome(command_id, party)
        return (found[0], found[1]) if found is not None else None


def _label(claims: Claims) -> str:
    if claims.action == ActionKind.DIAGNOSIS and claims.layer is not None:
        if claims.fault_found:
            return f"Report: fault found in {claims.layer.value}"
        return f"Report: check done, no fault in {claims.layer.value}"
    if claims.step is not None:
        return f"{STEP_VERBS.get(claims.step, claims.step.value)} access request {claims.request}"
    return VERBS.get(claims.action, claims.verb) if claims.action else claims.verb


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<meta name=referrer content="no-referrer">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:34em;padding:1em}"
        "h1{font-size:1.3em}dt{font-weight:600}dd{margin:0 0 .5em}"
        "button{font-size:1.1em;padding:.8em 1.2em;width:100%;border-radius:.4em;"
        "border:0;background:#0b5;color:#fff}.bad{color:#b00}"
        f"</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers={"cache-control": "no-store"})


def summary(
    incident: IncidentState | None, claims: Claims, view: ContractView, now: datetime
) -> str:
    """The incident as the person should see it before pressing: definition list HTML."""
    esc = html.escape
    rows = [("Incident", claims.incident), ("You act as", f"{claims.party} ({claims.to})")]
    if incident is None:
        rows.append(("Status", "not known to intake"))
        return _dl(rows)
    obj = view.object(incident.object_id)
    zone = view.local_calendar(incident.object_id)
    rows.append(("Status", f"{incident.status.value}, priority {incident.priority}"))
    if obj is not None:
        place = view.contract.locations.get(obj.location or "")
        rows.append(("Object", f"{obj.name} ({obj.id})" + (f" at {place.name}" if place else "")))
    if incident.scope:
        rows.append(("Affected", ", ".join(incident.scope)))
    rows.append(("Opened", f"{incident.opened_at.astimezone(zone.zone):%a %d %b %H:%M} "
                 f"{zone.spec.timezone}"))  # fmt: skip
    due = view.due(
        incident.object_id,
        incident.category,
        incident.priority,
        opened_at=incident.opened_at,
        first_alert_at=None,
    )
    if due is not None:
        for name, at in (("Respond by", due.response_due), ("Restore by", due.recovery_due)):
            left = at - now
            minutes = int(left.total_seconds() // 60)
            when = "overdue" if minutes < 0 else f"{minutes // 60} h {minutes % 60} min left"
            rows.append((name, f"{at.astimezone(zone.zone):%a %d %b %H:%M} ({when})"))
    if incident.participants:
        rows.append(("On it", ", ".join(incident.participants)))
    return _dl([(k, v) for k, v in rows], esc)


def _dl(rows: list[tuple[str, str]], esc: Any = html.escape) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"


Page = Callable[[str, Claims, datetime], Awaitable[HTMLResponse]]
"""A link's page, given its token, its verified claims and the time it was opened."""


def build_link_router(host: LinkHost, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["links"])
    refused = Counter(
        "baton_intake_link_refusals",
        "Action links refused, by reason (forged, malformed, expired, used)",
        ["reason"],
        registry=registry,
    )
    acted = Counter(
        "baton_intake_link_actions",
        "Actions taken through links, by verdict status",
        ["action", "status"],
        registry=registry,
    )

    def check(token: str, now: datetime) -> Claims:
        secret = host.settings.links_secret
        if secret is None:
            raise LinkRefused("disabled", "action links are not enabled on this Baton")
        return verify([s.get_secret_value() for s in secret], token, now)

    def refusal(exc: LinkRefused) -> HTMLResponse:
        refused.labels(exc.reason).inc()
        log.warning("action link refused", extra={"reason": exc.reason})
        status = 410 if exc.reason in ("expired", "used") else 403
        return _page("This link cannot act", f"<p class=bad>{html.escape(exc.detail)}</p>", status)

    async def checked(token: str, page: Page) -> HTMLResponse:
        """``page`` for the claims of the link ``token``, or the page refusing the link."""
        now = host.now()
        try:
            return await page(token, check(token, now), now)
        except LinkRefused as exc:
            return refusal(exc)

    async def confirm_page(token: str, claims: Claims, now: datetime) -> HTMLResponse:
        incident = await host.incident(claims.incident)
        label = html.escape(_label(claims))
        form = (
            "<form method=post>"  # to this very address, whatever prefix a proxy adds
            f"<button type=submit>{label}</button></form>"
            "<p><small>This link works once. Opening it did nothing yet.</small></p>"
        )
        return _page(label, summary(incident, claims, ContractView.of(host.contract), now) + form)

    async def acted_page(token: str, claims: Claims, now: datetime) -> HTMLResponse:
        mac = mac_of(token)
        if not await host.use(mac, claims.expires_at(), now):
            raise LinkRefused("used", "this link was used already: each link works once")
        actor = f"{claims.to or 'mailbox'} (link)"
        action: PartyActionV2 | AccessActionV1
        if claims.step is not None:  # an access request's approval or grant (ADR 49)
            action = AccessActionV1(
                action=claims.step, party=claims.party, actor=actor, request_id=claims.request
            )
        else:
            assert claims.action is not None  # verify: one of the two
            action = PartyActionV2(
                action=claims.action,
                party=claims.party,
                actor=actor,
                layer=claims.layer,
                fault_found=claims.fault_found,
                note="by an action link",
            )
        command = make_event(
            action,
            source=f"link:{claims.party}",
            time=now,
            subject=claims.incident,
            event_id=stable_id("link", mac),
        )
        try:
            await host.send(command)
        except Unavailable as exc:
            await host.forget(mac)  # nothing was kept: the person may press again
            return _page("Not done yet", f"<p class=bad>Baton is busy ({exc}); try again.</p>", 503)
        found = await host.verdict(command.id, claims.party)
        status, reason = found if found is not None else (202, "")
        acted.labels(claims.verb, str(status)).inc()
        label = html.escape(_label(claims))
        if status == 202:
            done = "Done" if found is not None else "Received; it is being applied"
            return _page(f"{done}: {label}", f"<p>{html.escape(claims.incident)}</p>", 200)
        return _page("Not allowed", f"<p class=bad>{html.escape(reason)}</p>", status)

    @router.get("/v1/links/{token}", response_class=HTMLResponse)
    async def show(token: str) -> HTMLResponse:
        """The action's page: the incident and one button. Opening it never acts."""
        return await checked(token, confirm_page)

    @router.post("/v1/links/{token}", response_class=HTMLResponse)
    async def act(token: str) -> HTMLResponse:
        """Performs the link's action as its party, by the HTTP action API's rules."""
        return await checked(token, acted_page)

    return router
