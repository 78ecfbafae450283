"""HTTP helpers shared by the services: problem responses that name the bad field."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def describe(exc: ValidationError) -> str:
    """One line naming every bad field, for logs and the dead-letter reason."""
    return "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(exc))


def problem(status: int, title: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": title, **extra}, status_code=status)


class Unavailable(Exception):
    """A dependency (``postgresql`` or ``kafka``) did not answer in time: answered 503 with
    ``Retry-After``. Whether the request was kept is not known for every path (a publish
    acknowledged after its deadline, a command decided later): the answer says so."""

    def __init__(self, dependency: str, detail: str = "") -> None:
        super().__init__(f"{dependency}: {detail or 'unavailable'}")
        self.dependency = dependency
        self.detail = detail or "unavailable"


def unavailable(dependency: str, retry_after: int, detail: str = "") -> JSONResponse:
    return JSONResponse(
        {
            "error": f"{dependency} unavailable: the request may have been kept; retry after"
            " Retry-After with the same request (and the same Idempotency-Key)",
            "dependency": dependency,
            **({"detail": detail} if detail else {}),
        },
        status_code=503,
        headers={"Retry-After": str(retry_after)},
    )
