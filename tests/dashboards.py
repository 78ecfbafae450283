"""Does every Grafana panel show something? Every query of the dashboard, evaluated by promtool
over the metrics the four services exported (scrapes a minute apart, as Prometheus would have
stored them), must return at least one series: a query that returns none makes its panel read
"No data". Two states of a healthy secure stack: idle since it started (the first scrape,
twice), and after one alert went through (three scrapes: before, after, and a minute on).

The recording a unit test reads lives in ``tests/fixtures/metrics/healthy-secure/``; the
integration test ``tests/integration/test_dashboards.py`` makes a fresh one from a running
secure stack and checks it the same way (copy its files there to refresh the fixture).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "baton-overview.json"
RECORDED = REPO / "tests" / "fixtures" / "metrics" / "healthy-secure"


def panel_targets(dashboard: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(panel, target)`` of every query, rows' nested panels included."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels") or [])

    for panel in walk(dashboard["panels"]):
        for target in panel.get("targets") or []:
            yield panel, target


def _selector(name: str, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def input_series(scrapes: Mapping[str, list[str]]) -> list[dict[str, str]]:
    """promtool's ``input_series`` from each instance's scrapes (``/metrics`` texts, oldest
    first), one sample a minute, with the ``job`` and ``instance`` labels and the ``up`` series
    Prometheus adds; ``_`` where a series did not exist yet."""
    values: dict[str, list[str]] = {}
    for instance, texts in scrapes.items():
        target = {"job": "baton", "instance": instance}
        values[_selector("up", target)] = ["1"] * len(texts)
        for i, text in enumerate(texts):
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name.endswith("_created") or math.isnan(sample.value):
                        continue
                    key = _selector(sample.name, {**sample.labels, **target})
                    found = values.setdefault(key, ["_"] * len(texts))
                    found[i] = repr(sample.value) if math.isfinite(sample.value) else "Inf"
    return [{"series": key, "values": " ".join(v)} for key, v in values.items()]


def recorded() -> dict[str, list[str]]:
    """The checked-in recording: ``<instance>.<n>.prom``."""
    scrapes: dict[str, list[str]] = {}
    for path in sorted(RECORDED.glob("*.prom")):
        instance, _ = path.stem.rsplit(".", 1)
        scrapes.setdefault(instance, []).append(path.read_text())
    return scrapes


def states(scrapes: Mapping[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """The two states to check, from one recording (per instance: idle, after, a minute on)."""
    return {
        "idle": {name: [texts[0], texts[0]] for name, texts in scrapes.items()},
        "after one alert": dict(scrapes),
    }


def empty_panels(scrapes: Mapping[str, list[str]], folder: Path) -> str:
    """promtool's report of the queries that return no series ("" when every one does)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found on PATH (`make tools`)"
    dashboard = json.loads(DASHBOARD.read_text())
    at = f"{max(len(texts) for texts in scrapes.values()) - 1}m"  # the last scrape
    tests = [
        {
            "expr": f"count({target['expr']}) > bool 0",  # 1 with a series, else nothing
            "eval_time": at,
            "exp_samples": [{"labels": "{}", "value": 1}],
        }
        for _, target in panel_targets(dashboard)
    ]
    spec = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m", "input_series": input_series(scrapes), "promql_expr_test": tests}
        ],
    }
    (folder / "dashboard.test.yml").write_text(yaml.safe_dump(spec, width=1000))
    result = subprocess.run(
        [promtool, "test", "rules", "dashboard.test.yml"],
        capture_output=True, text=True, timeout=120, check=False, cwd=folder,
    )  # fmt: skip
    return "" if result.returncode == 0 else result.stdout + result.stderr
