"""The admin address: with BATON_ADMIN_HTTP_PORT, /metrics, /docs and /openapi.json answer only
on that port and the API only on the public one (the split by the port a request came in on)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.service import AdminSplit
from shared.settings import Settings

PUBLIC, ADMIN = 8083, 9183


async def status(path: str, port: int) -> int:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "query_string": b"",
        "server": ("127.0.0.1", port),
    }
    await AdminSplit(app, admin_port=ADMIN)(scope, receive, send)
    code: int = sent[0]["status"]
    assert (path in reached) == (code == 200)
    return code


@pytest.mark.parametrize("path", ["/metrics", "/docs", "/openapi.json", "/redoc"])
async def test_admin_paths_only_on_the_admin_port(path: str) -> None:
    assert await status(path, ADMIN) == 200
    assert await status(path, PUBLIC) == 404


@pytest.mark.parametrize("path", ["/v1/incidents", "/v1/alerts/alertmanager", "/"])
async def test_the_api_only_on_the_public_port(path: str) -> None:
    assert await status(path, PUBLIC) == 200
    assert await status(path, ADMIN) == 404


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
async def test_health_on_both(path: str) -> None:
    assert await status(path, PUBLIC) == 200
    assert await status(path, ADMIN) == 200


def test_the_admin_port_must_be_its_own() -> None:
    with pytest.raises(ValidationError, match="admin_http_port"):
        Settings(http_port=8080, admin_http_port=8080)


def test_the_server_keeps_idle_connections_longer_than_clients_do() -> None:
    """Issue 25: with uvicorn's 5 s keep-alive (httpx keeps 5 s too, Go's net/http 90 s) a
    request sent on a connection the server was closing got no answer (2 of 192 measured)."""
    from fastapi import FastAPI

    from shared.service import server_config
    from shared.settings import Settings

    config = server_config(FastAPI(), Settings())
    assert config.timeout_keep_alive >= 90
    assert config.backlog >= 2048
