"""Reporting's document routes: the closure report and the monthly service report.

Who may call them: the same readers as the rest of reporting's read side (``reporting.access``):
a contractor's token gets the closure report of its own incidents only and no monthly report.
Documents are printed one at a time in a worker thread, so the event loop keeps serving; a
request waits for its document at most the request deadline (``BATON_HTTP_REQUEST_TIMEOUT_SECONDS``,
then 503 + Retry-After), and a print it stopped waiting for finishes before the next one starts.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request, Response

from reporting.access import Reader, may_see
from reporting.closure_report import closure_document
from reporting.document_facts import closure_facts, monthly_facts
from reporting.monthly_report import monthly_document
from reporting.store import changes_before
from shared.contract import Contract
from shared.contract.view import ContractView
from shared.db import Conn
from shared.documents import Document, render_html, render_pdf, to_json
from shared.instants import parse_month as month_start
from shared.service import Runtime

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
DocFormat = Literal["html", "pdf", "json"]
T = TypeVar("T")
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
}


# One document printed at a time: printing is CPU-bound and matplotlib is not thread-safe, so a
# burst of requests queues here instead of starving the consumer. The lock is taken in the
# worker thread: a request that stops waiting (its deadline) leaves its print holding it until
# it is done, and no second print runs beside it (an asyncio lock would be released at once).
_PRINTING = threading.Lock()


def _printed(render: Callable[[Document], T], doc: Document) -> T:
    with _PRINTING:
        return render(doc)


async def document_response(doc: Document, fmt: DocFormat, filename: str) -> Response:
    if fmt == "json":
        body = to_json(doc)
    elif fmt == "pdf":
        body = await asyncio.to_thread(_printed, render_pdf, doc)
    else:
        body = (await asyncio.to_thread(_printed, render_html, doc)).encode()
    # the name carries an incident id from the URL: only plain characters reach the header
    safe = _UNSAFE.sub("_", filename)[:100]
    headers = {"Content-Disposition": f'inline; filename="{safe}.{fmt}"'}
    return Response(body, media_type=MEDIA[fmt], headers=headers)


def parse_month(value: str) -> date:
    try:
        return month_start(value)
    except ValueError as exc:
        raise HTTPException(422, f"month: {exc}") from None


def add_document_routes(
    rt: Runtime,
    router: APIRouter,
    get_reader: Callable[[Request], Reader],
    contract_of: Callable[[Conn, str], Awaitable[Contract]],
) -> None:

    @router.get(
        "/v1/incidents/{incident_id}/report.{fmt}",
        tags=["documents"],
        response_class=Response,
        responses={200: {"content": {m: {} for m in MEDIA.values()}}},
    )
    async def closure_report(incident_id: str, fmt: DocFormat, request: Request) -> Response:
        """The incident's closure report as HTML, PDF or JSON (a draft until it is closed)."""
        who = get_reader(request)
        async with rt.pool.acquire() as conn:
            facts = await closure_facts(conn, incident_id)
            hidden = not await may_see(conn, who, incident_id)
            contract = await contract_of(conn, incident_id)
            if facts is not None and not hidden:
                beside = await changes_before(conn, contract, facts.incident)
                facts = replace(facts, changes=beside)
        if facts is None or hidden:
            raise HTTPException(404, f"incident_id: no incident {incident_id!r}")
        doc = closure_document(facts, ContractView.of(contract))  # the incident's own version
        return await document_response(doc, fmt, f"closure-{incident_id}")

    @router.get(
        "/v1/reports/monthly",
        tags=["documents"],
        response_class=Response,
        responses={200: {"content": {m: {} for m in MEDIA.values()}}},
    )
    async def monthly_report(
        month: Annotated[str, Query(description="YYYY-MM", pattern=r"^\d{4}-\d{2}$")],
        request: Request,
        fmt: Annotated[DocFormat, Query(alias="format")] = "html",
    ) -> Response:
        """The monthly service report: compliance, breaches, pauses, MTTA/MTTR per week,
        recurring objects and origins, incidents outside the perimeter — with charts (an
        operator's or the customer's token: it covers every contractor)."""
        who = get_reader(request)
        if who.party is not None:
            raise HTTPException(403, f"reader: {who.name} sees its own incidents, not the month")
        period = parse_month(month)
        async with rt.pool.acquire() as conn:
            facts = await monthly_facts(conn, period)
        doc = monthly_document(facts, rt.contract)
        return await document_response(doc, fmt, f"service-report-{month}")
