"""What the bench reports about people told (baton/notify_bench.py): counts, repeats, lost
messages against Mailpit, the router's sender kinds, the outage's latency split."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from baton.notify_bench import (
    Mail,
    Row,
    lines,
    mails_from,
    sender_kinds,
    split_by_window,
    summarise,
)
from baton.scenarios import Outage

SUBJECT = "[Baton P1] inc-1: assignment (primary)"


def _row(
    recipient: str = "sysops/mailbox",
    state: str = "sent",
    *,
    incident: str = "inc-1",
    channel: str = "email",
    address: str = "duty@sysops.example",
    kind: str = "baton.assignment.issued",
    subject: str = SUBJECT,
) -> Row:
    return Row(incident, recipient, channel, address, kind, subject, state)


def test_every_row_sent_and_held_once_is_nothing_lost_nothing_repeated() -> None:
    rows = [_row(), _row("sysops/oncall", address="oncall@sysops.example")]
    mails = [Mail(("duty@sysops.example",), SUBJECT), Mail(("oncall@sysops.example",), SUBJECT)]
    figures = summarise(rows, mails)
    assert (figures.written, figures.sent, figures.failed, figures.unsent) == (2, 2, 0, 0)
    assert (figures.lost, figures.repeated_rows) == (0, 0)
    assert (figures.email_sent, figures.mailpit_received) == (2, 2)
    assert (figures.mailpit_missing, figures.mailpit_doubled) == (0, 0)


def test_failed_queued_and_sent_but_missing_messages_count_as_lost() -> None:
    rows = [
        _row("a", "failed", address="a@x"),
        _row("b", "queued", address="b@x"),
        _row("c", "sending", address="c@x"),
        _row("d", "sent", address="d@x"),  # recorded sent, Mailpit never got it
        _row("e", "sent", address="e@x"),
    ]
    figures = summarise(rows, [Mail(("e@x",), SUBJECT)])
    assert (figures.failed, figures.unsent, figures.mailpit_missing) == (1, 2, 1)
    assert figures.lost == 4
    assert figures.as_dict()["notifications_lost"] == 4


def test_one_message_twice_to_one_recipient_is_a_repeat_and_a_double() -> None:
    rows = [_row(), _row()]  # a storm's repeat made a second row of the same message
    figures = summarise(rows, [Mail(("duty@sysops.example",), SUBJECT)] * 3)
    assert figures.repeated_rows == 1
    assert figures.mailpit_doubled == 1  # three held for two rows sent
    assert any("repeated messages" in line and line.endswith(" 1") for line in lines(figures))


def test_the_same_subject_on_another_incident_channel_or_cause_is_no_repeat() -> None:
    rows = [
        _row(),
        _row(incident="inc-2"),
        _row(channel="messenger", address="@sysops"),
        _row(kind="baton.assignment.escalated"),
    ]
    assert summarise(rows, []).repeated_rows == 0


def test_mailpit_messages_of_other_runs_are_not_counted() -> None:
    held = [Mail(("duty@sysops.example",), "[Baton P2] inc-9: assignment (primary)")]
    held.append(Mail(("someone@else.example",), SUBJECT))
    figures = summarise([_row()], held)
    assert (figures.mailpit_received, figures.mailpit_missing, figures.mailpit_doubled) == (0, 1, 0)


def test_mailpits_api_entries_become_mails() -> None:
    api: list[dict[str, Any]] = [
        {"To": [{"Name": "", "Address": "a@x"}], "Subject": "s"},
        {"To": None, "Subject": "t"},
    ]
    assert mails_from(api) == [Mail(("a@x",), "s"), Mail((), "t")]


@pytest.mark.parametrize(
    ("environ", "kinds"),
    [
        (
            b"PATH=/bin\0BATON_NOTIFY_SENDERS=" + json.dumps({"sms": "x", "email": "y"}).encode(),
            ["email", "sms"],
        ),
        (b"PATH=/bin\0BATON_NOTIFY_SENDERS={}\0", []),
        (b"PATH=/bin\0", []),
        (b"BATON_NOTIFY_SENDERS=not json\0", []),
    ],
)
def test_the_routers_sender_kinds_come_from_its_environment(
    environ: bytes, kinds: list[str]
) -> None:
    assert sender_kinds(environ) == kinds


def test_latencies_split_by_whether_the_first_alert_came_while_the_relay_was_away() -> None:
    incidents = [(10.0, 10.5), (15.0, 15.2), (40.0, 41.0)]
    inside, outside = split_by_window(incidents, (9.0, 30.0))
    assert inside == pytest.approx([500.0, 200.0])
    assert outside == pytest.approx([1000.0])


class _Relay:
    web_url = "http://127.0.0.1:1"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")

    def start(self) -> None:
        self.calls.append("start")


async def test_an_outage_stops_the_relay_and_starts_it_again_even_when_cut_short() -> None:
    relay = _Relay()
    outage = Outage(30.0)
    await outage.begin(relay)
    assert relay.calls == ["stop"]
    assert outage.window == (outage.down_at, outage.down_at + 30.0)  # planned while away
    ending = asyncio.create_task(outage.end_later(relay))
    await asyncio.sleep(0)
    ending.cancel()  # the bench failed: the relay must not stay stopped
    with pytest.raises(asyncio.CancelledError):
        await ending
    assert relay.calls == ["stop", "start"]
    assert outage.window == (outage.down_at, outage.up_at)
