"""Every foreign format Baton takes in, by name: the HTTP receivers and the raw-alerts topic
(whose ``format`` header names one of these) share the same adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intake import alertmanager, generic, grafana, pagerduty, userreport, zabbix
from shared.contract import Contract
from shared.events import Alert

Decode = Callable[[Any, Contract, datetime, str], list[Alert]]


def _alertmanager(doc: Any, contract: Contract, now: datetime, _: str) -> list[Alert]:
    return alertmanager.normalise(
        alertmanager.AlertmanagerWebhook.model_validate(doc), contract, now
    )


def _grafana(doc: Any, contract: Contract, now: datetime, _: str) -> list[Alert]:
    return grafana.normalise(grafana.GrafanaWebhook.model_validate(doc), contract, now)


def _pagerduty(doc: Any, contract: Contract, now: datetime, unique: str) -> list[Alert]:
    return [pagerduty.normalise(pagerduty.Event.model_validate(doc), contract, now, unique)]


def _zabbix(doc: Any, contract: Contract, now: datetime, _: str) -> list[Alert]:
    return zabbix.normalise(zabbix.ZabbixEvent.model_validate(doc), contract, now)


def _generic(doc: Any, contract: Contract, now: datetime, _: str) -> list[Alert]:
    return generic.normalise(generic.GenericBatch.model_validate(doc), contract, now)


def _user(doc: Any, contract: Contract, now: datetime, unique: str) -> list[Alert]:
    return [userreport.normalise(userreport.UserReport.model_validate(doc), contract, now, unique)]


@dataclass(frozen=True)
class Format:
    name: str
    decode: Decode
    """document, contract, now, a unique id of this input -> alerts; pydantic's
    ``ValidationError`` names the bad field."""


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(alertmanager.SOURCE, _alertmanager),
        Format(grafana.SOURCE, _grafana),
        Format(pagerduty.SOURCE, _pagerduty),
        Format(zabbix.SOURCE, _zabbix),
        Format(generic.SOURCE, _generic),
        Format(userreport.SOURCE, _user),
    )
}
