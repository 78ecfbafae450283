"""The contract's vocabulary: the enumerations and constants the schema, lint and the services
share (criticalities, object kinds, periods, channel kinds, the core layers), and how an instant
is classified into a period."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from shared.calendar import BusinessCalendar
from shared.events import Layer

Criticality = Literal["critical", "high", "medium", "low"]
CRITICALITIES: tuple[Criticality, ...] = ("critical", "high", "medium", "low")
PartyKind = Literal["hardware", "os_dbms", "apps_integrations", "customer", "vendor", "other"]
CORE_LAYERS: tuple[Layer, ...] = (
    Layer.HARDWARE,
    Layer.OS,
    Layer.DBMS,
    Layer.APPLICATION,
    Layer.INTEGRATION,
)
"""Layers that must have a primary party in every contract; ``network`` only where used."""


class ContractError(ValueError):
    """The contract cannot be loaded; the message names the file, the line and the field."""


class Environment(StrEnum):
    PRODUCTION = "production"
    TEST = "test"
    STAGING = "staging"
    DR = "dr"


class ObjectKind(StrEnum):
    SERVER = "server"
    WORKSTATION = "workstation"
    WORKSTATION_GROUP = "workstation_group"
    CHECKOUT_TERMINAL = "checkout_terminal"
    VM = "vm"
    HYPERVISOR = "hypervisor"
    DOMAIN_CONTROLLER = "domain_controller"
    STORAGE = "storage"
    TERMINAL_SERVER = "terminal_server"
    MAIL = "mail"
    OS = "os"
    DBMS = "dbms"
    APPLICATION = "application"
    QUEUE = "queue"
    API = "api"
    CONNECTOR = "connector"
    GATEWAY = "gateway"
    FILE_EXCHANGE = "file_exchange"
    SCHEDULED_TASK = "scheduled_task"
    DIRECTORY = "directory"
    BACKUP = "backup"
    NETWORK_NODE = "network_node"
    OTHER = "other"


SCHEDULED_KINDS = frozenset({ObjectKind.FILE_EXCHANGE, ObjectKind.SCHEDULED_TASK})
VERSIONED_LAYERS = frozenset({Layer.OS, Layer.DBMS, Layer.APPLICATION})


class Period(StrEnum):
    """How the contract classifies an instant for SLA purposes (see ``SlaPolicy``)."""

    DAY = "day"
    NIGHT = "night"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


ALL_PERIODS: tuple[Period, ...] = tuple(Period)


class ChannelKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    MESSENGER = "messenger"
    PAGER = "pager"
    TICKET = "ticket"
    KAFKA = "kafka"
    HTTP = "http"


def classify(calendar: BusinessCalendar, at: datetime) -> Period:
    """Open = day; a holiday = holiday; any other closed day = weekend; else night."""
    if calendar.is_open(at):
        return Period.DAY
    day = at.astimezone(calendar.zone).date()
    if calendar.holiday_name(day) is not None:
        return Period.HOLIDAY
    if not calendar.hours_on(day):
        return Period.WEEKEND
    return Period.NIGHT
