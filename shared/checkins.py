"""Expected events: what the contract says must happen on a schedule, and when it is missed.

Every object with an expected ``schedule`` (file exchanges, scheduled tasks) and every backup
duty (copies and their check on a cron schedule, test restores every N days) is one
*expectation* with a check-in key. The key is a capability: whoever holds it can report the
run done and clear its alert, so it is an HMAC of the check-in's name (``<contract>/<object>/
<duty>``, or the ``key`` the contract gives the schedule) under the stack's check-in secret
(``BATON_CHECKIN_SECRET``, generated with the other credentials: ADR 35). Every party holds the
contract; nobody rebuilds a key from it without the secret. Runs report to that key
(healthchecks.io's ping protocol); the watchdog (sla-clock, ADR 16) asks this module when the
next run is expected and turns a run that did not report by expected time + grace into an alert.

Pure: every function takes ``now`` or an instant; nothing here reads the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from cron_descriptor import ExpressionDescriptor, Options
from croniter import croniter

from shared.contract import Contract
from shared.contract.model import Schedule, SupportObject
from shared.contract.model_validators import format_duration
from shared.contract.view import ContractView
from shared.events import Category

DEFAULT_GRACE = timedelta(minutes=15)
KEY_NAMESPACE = uuid.UUID("0c9f6a0e-3b8e-4d59-9d7e-6c1f2b7d5a10")
MAX_STEPS = 2000
"""Cron occurrences skipped (holidays, maintenance) before giving up on finding the next run."""


class Duty(StrEnum):
    RUN = "run"
    """The object's own scheduled run (exchange, job)."""
    BACKUP = "backup"
    BACKUP_CHECK = "backup_check"
    TEST_RESTORE = "test_restore"


DUTY_WORDS = {
    Duty.RUN: "scheduled run",
    Duty.BACKUP: "backup copy",
    Duty.BACKUP_CHECK: "backup check",
    Duty.TEST_RESTORE: "test restore",
}


@dataclass(frozen=True, slots=True)
class Expectation:
    key: str
    object_id: str
    duty: Duty
    cron: str | None
    every: timedelta | None
    timezone: str
    grace: timedelta
    timeout: timedelta | None
    skip_holidays: str | None
    party: str | None
    """The party whose duty the run is (the object's executor, or the backup duty's party)."""

    @property
    def category(self) -> Category:
        """An overdue test restore is work to be done (a request); anything else that did not
        run is an integration issue."""
        return Category.REQUEST if self.duty is Duty.TEST_RESTORE else Category.INTEGRATION_ISSUE

    @property
    def name(self) -> str:
        """``object/duty``: what logs, labels and alerts say instead of the key (a capability)."""
        return f"{self.object_id}/{self.duty.value}"

    @property
    def fingerprint(self) -> str:
        return f"checkin:{self.name}"

    def fingerprint_of_schedule(self) -> str:
        """Changes when the schedule does, so a new contract version re-plans the next run."""
        return "|".join(
            str(x) for x in (self.cron, self.every, self.timezone, self.grace, self.skip_holidays)
        )


def derive_key(contract: Contract, object_id: str, duty: Duty) -> str:
    """The public key of a stack without a check-in secret (an open door: ``BATON_INSECURE``):
    anyone holding the contract computes it."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{contract.id}/{object_id}/{duty.value}"))


def checkin_key(secret: str, name: str) -> str:
    """The check-in key of ``name`` under ``secret``: HMAC-SHA256, base64url (43 characters)."""
    digest = hmac.new(secret.encode(), name.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _key(contract: Contract, obj_id: str, duty: Duty, named: str | None, secret: str | None) -> str:
    if secret is None:
        return named or derive_key(contract, obj_id, duty)
    return checkin_key(secret, named or f"{contract.id}/{obj_id}/{duty.value}")


def _from_schedule(
    contract: Contract,
    obj: SupportObject,
    duty: Duty,
    schedule: Schedule,
    party: str | None,
    *,
    secret: str | None,
) -> Expectation:
    return Expectation(
        key=_key(contract, obj.id, duty, schedule.key, secret),
        object_id=obj.id,
        duty=duty,
        cron=schedule.cron,
        every=None,
        timezone=schedule.timezone,
        grace=schedule.grace if schedule.grace is not None else DEFAULT_GRACE,
        timeout=schedule.timeout or schedule.expected_duration,
        skip_holidays=schedule.skip_holidays,
        party=party,
    )


def expectations(contract: Contract, secret: str | None = None) -> list[Expectation]:
    """Every expected event of the contract, in contract order, with its key under ``secret``
    (None: the public keys of a stack started open)."""
    out: list[Expectation] = []
    for obj in contract.objects:
        if obj.schedule is not None:
            out.append(
                _from_schedule(contract, obj, Duty.RUN, obj.schedule, obj.executor, secret=secret)
            )
        backup = obj.backup
        if backup is None:
            continue
        if backup.copies is not None:
            out.append(
                _from_schedule(
                    contract, obj, Duty.BACKUP, backup.copies, backup.made_by, secret=secret
                )
            )
        if backup.check is not None:
            party = backup.checked_by or backup.made_by
            out.append(
                _from_schedule(contract, obj, Duty.BACKUP_CHECK, backup.check, party, secret=secret)
            )
        if backup.test_restore_every:
            out.append(
                Expectation(
                    key=_key(contract, obj.id, Duty.TEST_RESTORE, None, secret),
                    object_id=obj.id,
                    duty=Duty.TEST_RESTORE,
                    cron=None,
                    every=backup.test_restore_every,
                    timezone=_zone_of(contract, obj),
                    grace=timedelta(days=1),
                    timeout=None,
                    skip_holidays=None,
                    party=backup.test_restore_by,
                )
            )
    return out


def by_key(contract: Contract, secrets: Sequence[str] = ()) -> dict[str, Expectation]:
    """Each key a run may report to -> its expectation, keyed under the first secret. While the
    secret is rotated (``[new, old]``) the old keys still find their expectation, whose ``key``
    is the new one: runs move to the new key before the old secret is removed."""
    if not secrets:
        return {e.key: e for e in expectations(contract)}
    current = expectations(contract, secrets[0])
    found: dict[str, Expectation] = {}
    for secret in reversed(secrets):
        for exp, old in zip(current, expectations(contract, secret), strict=True):
            found[old.key] = exp
    return found


def _zone_of(contract: Contract, obj: SupportObject) -> str:
    spec = contract.calendar_spec(obj.calendar)
    return spec.timezone if spec is not None else "UTC"


def _suppressed(contract: Contract, exp: Expectation, at: datetime) -> bool:
    """No run is expected at ``at``: a holiday of the schedule's calendar, or an approved
    maintenance window covering the object (the same windows in which intake holds alerts)."""
    view = ContractView.of(contract)
    if exp.skip_holidays is not None:
        calendar = view.calendar(exp.skip_holidays)
        local_day = at.astimezone(ZoneInfo(exp.timezone)).date()
        if calendar.holiday_name(local_day) is not None:
            return True
    return view.holding_window(exp.object_id, at) is not None


def next_expected(contract: Contract, exp: Expectation, after: datetime) -> datetime | None:
    """The first run expected strictly after ``after`` (None: the schedule never fires)."""
    if exp.every is not None:
        return after + exp.every
    assert exp.cron is not None
    zone = ZoneInfo(exp.timezone)
    it = croniter(exp.cron, after.astimezone(zone))
    for _ in range(MAX_STEPS):
        at: datetime = it.get_next(datetime)
        if not _suppressed(contract, exp, at):
            return at
    return None


def skipped_between(
    contract: Contract, exp: Expectation, after: datetime, until: datetime
) -> list[datetime]:
    """Cron occurrences in ``(after, until]`` that the contract suppresses (for the record)."""
    if exp.cron is None:
        return []
    it = croniter(exp.cron, after.astimezone(ZoneInfo(exp.timezone)))
    out: list[datetime] = []
    for _ in range(MAX_STEPS):
        at: datetime = it.get_next(datetime)
        if at > until:
            break
        if _suppressed(contract, exp, at):
            out.append(at)
    return out


_WORDS = Options()
_WORDS.use_24hour_time_format = True


def cron_in_words(cron: str) -> str:
    """``0 2 * * 1-5`` -> ``At 02:00, Monday through Friday`` (24-hour, as contracts say it)."""
    return str(ExpressionDescriptor(cron, _WORDS).get_description())


def schedule_in_words(exp: Expectation) -> str:
    """``At 02:00 (Asia/Almaty)`` rather than ``0 2 * * *``."""
    if exp.every is not None:
        days = exp.every.days
        span = f"{days} days" if days > 1 and not exp.every.seconds else format_duration(exp.every)
        return f"every {span} since the last one"
    assert exp.cron is not None
    words = f"{cron_in_words(exp.cron)} ({exp.timezone})"
    if exp.skip_holidays:
        words += f", except holidays of {exp.skip_holidays}"
    return words


@dataclass(frozen=True, slots=True)
class ExpectedEvent:
    """One row of the appendix's and the drill's list of expected events."""

    object_id: str
    object_name: str
    duty: str
    schedule: str
    cron: str | None
    timezone: str
    grace: str
    party: str | None
    paged: str
    """Who is paged when it is missed: the object's layer owner (and its contact on duty)."""
    category: str
    key: str


def expected_events(
    view: ContractView, at: datetime | None = None, secret: str | None = None
) -> list[ExpectedEvent]:
    """Each expected event of ``view``'s contract with its schedule in words, its grace and who
    is paged when missed (the contact on duty at ``at`` when given); its key under ``secret``
    (without it: no key)."""
    rows = []
    contract = view.contract
    for exp in expectations(contract, secret):
        obj = contract.object(exp.object_id)
        assert obj is not None
        # routed like any incident: the layer's primary party, else the coordinator
        owner = view.primary_for(obj.layer)
        party = contract.parties.get(owner)
        paged = f"{owner} ({party.name})" if party is not None else owner
        if at is not None and (shift := view.on_duty(owner, at)) is not None:
            paged += f", on duty: {shift[1].reach()}"
        rows.append(
            ExpectedEvent(
                object_id=obj.id,
                object_name=obj.name,
                duty=DUTY_WORDS[exp.duty],
                schedule=schedule_in_words(exp),
                cron=exp.cron,
                timezone=exp.timezone,
                grace=format_duration(exp.grace),
                party=exp.party,
                paged=paged,
                category=exp.category.value,
                key=exp.key if secret else "",
            )
        )
    return rows
