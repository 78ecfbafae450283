"""Zabbix → Baton alerts, as posted by the media type in ``deploy/zabbix/``.

The media type's script sends one JSON object per problem or recovery event built from Zabbix
macros: ``event_id`` ({EVENT.ID}; in a recovery message it is still the problem's id, so problem
and recovery share a fingerprint), ``event_value`` ({EVENT.VALUE}: 1 problem, 0 recovery),
``event_nseverity`` ({EVENT.NSEVERITY}, 0-5), ``host`` ({HOST.HOST}), ``trigger_name``
({TRIGGER.NAME}), ``event_date``/``event_time`` ({EVENT.DATE} ``yyyy.mm.dd`` and {EVENT.TIME}
in the server's ``timezone``) and ``event_tags`` ({EVENT.TAGSJSON}). A macro Zabbix could not
resolve arrives as its own text (``{EVENT.RECOVERY.DATE}``) and is read as empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from intake.labels import make_alert
from shared.contract import Contract
from shared.events import Alert, Category
from shared.instants import TimeZone, in_range
from shared.model import Foreign

SOURCE = "zabbix"
SEVERITIES = ("not_classified", "information", "warning", "average", "high", "disaster")


class Tag(Foreign):
    tag: str = Field(min_length=1)
    value: str = ""


class ZabbixEvent(Foreign):
    event_id: str = Field(pattern=r"^[0-9]+$")
    event_value: Literal["0", "1"]
    event_nseverity: Literal["0", "1", "2", "3", "4", "5"]
    host: str = Field(min_length=1)
    trigger_name: str = Field(min_length=1)
    event_date: str = Field(pattern=r"^\d{4}\.\d{2}\.\d{2}$")
    event_time: str = Field(pattern=r"^\d{2}:\d{2}:\d{2}$")
    timezone: TimeZone = "UTC"
    event_recovery_date: str = ""
    event_recovery_time: str = ""
    event_name: str = ""
    event_severity: str = ""
    event_opdata: str = ""
    host_name: str = ""
    trigger_id: str = ""
    event_tags: list[Tag] = Field(default_factory=list)
    event_update_status: str = "0"
    zabbix_url: str = ""

    @field_validator(
        "event_recovery_date",
        "event_recovery_time",
        "event_opdata",
        "host_name",
        "trigger_id",
        "event_name",
        "event_severity",
        "zabbix_url",
        mode="before",
    )
    @classmethod
    def _unresolved_macro(cls, value: object) -> object:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return ""
        return value

    @model_validator(mode="after")
    def _dates(self) -> ZabbixEvent:
        self.started()  # raises ValueError naming event_date/event_time
        return self

    def _at(self, day: str, clock: str, name: str) -> datetime:
        try:
            naive = datetime.strptime(f"{day} {clock}", "%Y.%m.%d %H:%M:%S")  # noqa: DTZ007
        except ValueError:
            raise ValueError(f"{name}: not a valid date and time: {day} {clock}") from None
        at = naive.replace(tzinfo=ZoneInfo(self.timezone))
        try:
            return in_range(at)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def started(self) -> datetime:
        return self._at(self.event_date, self.event_time, "event_date, event_time")

    def recovered(self) -> datetime | None:
        if not (self.event_recovery_date and self.event_recovery_time):
            return None
        return self._at(self.event_recovery_date, self.event_recovery_time, "event_recovery_date")


def normalise(event: ZabbixEvent, contract: Contract, now: datetime) -> list[Alert]:
    resolved = event.event_value == "0"
    severity = SEVERITIES[int(event.event_nseverity)]
    labels = {t.tag: t.value for t in event.event_tags}
    labels |= {"host": event.host, "instance": event.host, "severity": severity}
    labels.setdefault("trigger", event.trigger_name)
    category = (
        None
        if "category" in labels
        else (Category.OUTAGE if int(event.event_nseverity) >= 4 else Category.DEGRADATION)
    )
    annotations = {"summary": event.event_name or event.trigger_name}
    if event.event_opdata:
        annotations["opdata"] = event.event_opdata
    link = ""
    if event.zabbix_url and event.trigger_id:
        base = event.zabbix_url.rstrip("/")
        link = f"{base}/tr_events.php?triggerid={event.trigger_id}&eventid={event.event_id}"
    return [
        make_alert(
            contract,
            source=SOURCE,
            fingerprint=f"zabbix:{event.event_id}",
            status="resolved" if resolved else "firing",
            labels=labels,
            annotations=annotations,
            summary=event.event_name or event.trigger_name,
            starts_at=event.started(),
            ends_at=(event.recovered() or now) if resolved else None,
            links=[link],
            category=category,
        )
    ]
