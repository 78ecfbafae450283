"""The local stack's SMTP relay (baton/mailpit.py): what the router is told, what status shows."""

from __future__ import annotations

import json
from pathlib import Path

from baton import mailpit, stack


def test_the_router_sends_email_through_the_recorded_relay_and_links_point_at_intake(
    tmp_path: Path,
) -> None:
    paths = stack.StackPaths(tmp_path)
    ports = stack.StackPorts.from_base(41000)
    assert mailpit.recorded(paths) is None
    assert mailpit.service_env(paths, "router", ports, {}) == {
        "BATON_LINKS_BASE_URL": "http://127.0.0.1:41003"  # intake
    }
    (tmp_path / "mailpit").mkdir()
    (tmp_path / "mailpit" / "ports.json").write_text(json.dumps({"smtp": 41100, "http": 41101}))
    env = mailpit.service_env(paths, "router", ports, {})
    senders = json.loads(env["BATON_NOTIFY_SENDERS"])
    assert senders["email"].startswith("mailto://127.0.0.1:41100?")
    assert "{address}" in senders["email"]
    assert mailpit.service_env(paths, "intake", ports, {}) == {}
    # an operator's own senders are kept
    assert "BATON_NOTIFY_SENDERS" not in mailpit.service_env(
        paths, "router", ports, {"BATON_NOTIFY_SENDERS": "{}"}
    )


def test_status_shows_the_relay_web_address(tmp_path: Path) -> None:
    (tmp_path / "mailpit").mkdir()
    (tmp_path / "mailpit" / "ports.json").write_text(json.dumps({"smtp": 41100, "http": 41101}))
    found = stack.status(stack.StackPaths(tmp_path))["mailpit"]
    assert found == {"web": "http://127.0.0.1:41101", "smtp": "127.0.0.1:41100", "running": False}


def test_the_relay_keeps_every_message_so_a_storms_mail_can_be_counted(tmp_path: Path) -> None:
    """Mailpit prunes to its newest 500 messages unless told: a storm's e-mail would look lost."""
    argv = mailpit.argv("mailpit", mailpit.Mailpit(41100, 41101), tmp_path)
    assert argv[argv.index("--max") + 1] == "0"
    assert argv[argv.index("--smtp") + 1] == "127.0.0.1:41100"
    assert argv[argv.index("--listen") + 1] == "127.0.0.1:41101"
