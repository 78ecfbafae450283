"""How the suite is laid out over pytest-xdist's workers (``--dist loadgroup``, Makefile).

An integration test waits seconds to minutes on the broker and on service processes; most unit
tests take milliseconds. The workers are handed the integration tests first, one at a time, so
that the longest waits overlap from the start and the quick unit tests fill in at the end. A
module whose tests share an expensive module fixture marks itself ``xdist_group`` to stay on one
worker; grouping every unit module made one 35 s fuzz module the last thing running (the unit
tests alone: 138 s grouped, 81 s not).
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: INTEGRATION not in item.path.parents)  # stable otherwise
