"""The shipped Zabbix media type posts what the Zabbix receiver accepts.

The media type's script runs under Node.js with a stand-in for Zabbix's ``HttpRequest``; its
parameters are resolved from a problem and a recovery event the way Zabbix resolves macros.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from intake.zabbix import ZabbixEvent

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "deploy" / "zabbix" / "baton_media_type.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "intake"
NODE = shutil.which("node")

RUNNER = """
const [script, value] = [process.argv[1], process.argv[2]];
let sent = null;
function HttpRequest() { this.headers = []; }
HttpRequest.prototype.addHeader = function (h) { this.headers.push(h); };
HttpRequest.prototype.setProxy = function () {};
HttpRequest.prototype.post = function (url, body) {
  sent = {url: url, body: body, headers: this.headers}; return '{"accepted":1}';
};
HttpRequest.prototype.getStatus = function () { return 202; };
const Zabbix = {log: function () {}};
const result = new Function('value', 'HttpRequest', 'Zabbix', script)(value, HttpRequest, Zabbix);
console.log(JSON.stringify({result: result, sent: sent}));
"""


def media() -> dict[str, Any]:
    doc = yaml.safe_load(MEDIA.read_text())
    (media_type,) = doc["zabbix_export"]["media_types"]
    return dict(media_type)


def resolved(fixture: str, **extra: str) -> dict[str, str]:
    """The media type's parameters as Zabbix would pass them for the fixture's event."""
    event = json.loads((FIXTURES / fixture).read_text())
    macros = {
        "event_tags": json.dumps(event["event_tags"]),
        "event_source": "0",
        "baton_url": "https://baton.example/v1/alerts/zabbix",
        "baton_token": "zbx-token",
    }
    params = {}
    for p in media()["parameters"]:
        name = p["name"]
        params[name] = macros.get(name, event.get(name, p.get("value", "")))
    return params | extra


def run(params: dict[str, str]) -> dict[str, Any]:
    if NODE is None:
        pytest.fail(
            "node is not installed (`make tools` installs nodejs): the Zabbix media "
            "type's script cannot be run"
        )
    out = subprocess.run(
        [NODE, "-e", RUNNER, media()["script"], json.dumps(params)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_media_type_is_a_webhook_with_every_field_the_receiver_requires() -> None:
    mt = media()
    assert mt["type"] == "WEBHOOK"
    names = {p["name"] for p in mt["parameters"]}
    required = {n for n, f in ZabbixEvent.model_fields.items() if f.is_required()}
    assert required <= names
    values = {p["name"]: p.get("value") for p in mt["parameters"]}
    assert values["event_id"] == "{EVENT.ID}"
    assert values["event_value"] == "{EVENT.VALUE}"
    assert values["event_nseverity"] == "{EVENT.NSEVERITY}"
    assert values["host"] == "{HOST.HOST}"
    assert values["trigger_name"] == "{TRIGGER.NAME}"
    assert values["event_tags"] == "{EVENT.TAGSJSON}"
    modes = {t["operation_mode"] for t in mt["message_templates"]}
    assert modes == {"PROBLEM", "RECOVERY"}


@pytest.mark.tools
@pytest.mark.parametrize("fixture", ["zabbix-problem.json", "zabbix-recovery.json"])
def test_script_posts_what_the_receiver_accepts(fixture: str) -> None:
    out = run(resolved(fixture))
    assert out["result"] == "OK"
    sent = out["sent"]
    assert sent["url"] == "https://baton.example/v1/alerts/zabbix"
    assert "Authorization: Bearer zbx-token" in sent["headers"]
    assert "Content-Type: application/json" in sent["headers"]
    event = ZabbixEvent.model_validate_json(sent["body"])
    assert event.event_id == "31512"
    assert [t.tag for t in event.event_tags] == ["job", "scope"]
    assert event.event_value == ("1" if "problem" in fixture else "0")
    assert "baton_token" not in json.loads(sent["body"])


@pytest.mark.tools
def test_script_skips_updates_and_other_event_sources() -> None:
    assert run(resolved("zabbix-problem.json", event_update_status="1"))["sent"] is None
    assert run(resolved("zabbix-problem.json", event_source="3"))["sent"] is None
