"""How the suite is laid out over pytest-xdist's workers (``--dist loadgroup``, Makefile).

An integration test waits seconds to minutes on the broker and on service processes; a unit
module takes a second or less. The workers take the integration tests first, one at a time, so
that the longest waits overlap from the start and the quick unit modules fill in at the end.
Each unit module is one group on one worker: its module fixtures (a rendered Helm chart, a
printed PDF) are built once, not once per worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION = Path(__file__).parent / "integration"


def _is_integration(item: pytest.Item) -> bool:
    return INTEGRATION in item.path.parents


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not _is_integration(item))  # stable: file order otherwise
    for item in items:
        if not _is_integration(item):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
