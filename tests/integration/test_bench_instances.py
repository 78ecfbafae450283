"""`baton bench --instances N`'s extra processes, on the real stack: they start beside the
stack's own with its environment, answer /healthz on ports of their own, join their service's
consumer group, and are stopped when the run ends — also when it fails."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from baton.measures import Lag
from baton.stack import (
    Service,
    StackPaths,
    client_settings,
    extra_instances,
    instance_pids,
    stack_paths,
    status,
)
from baton.stack.processes import _cmdline, _port_open
from shared.kafka import aiokafka_kwargs
from shared.settings import Settings
from tests.integration.conftest import Infra


class RunFailed(Exception):
    pass


def test_extra_instances_join_their_group_and_are_stopped_after_a_failed_run(
    infra: Infra,
) -> None:
    paths = stack_paths()
    found: dict[Service, int] = {}  # each extra instance -> its pid, as the run saw them
    with pytest.raises(RunFailed):
        _a_run_that_fails(paths, found)
    assert {s.name for s in found} == {"reporting-2", "reporting-3"}
    for service, pid in found.items():
        assert not paths.pidfile(service.name).exists()
        assert _cmdline(pid) is None
        assert not _port_open(service.port)


def _a_run_that_fails(paths: StackPaths, found: dict[Service, int]) -> None:
    """Two more reporting processes: healthy on ports of their own, each logging in the stack's
    folder, both members of reporting's group beside the stack's own (when it runs); then the
    run fails, as a bench run can (or Ctrl-C)."""
    own = 1 if status(paths)["services"]["reporting"]["running"] else 0
    with extra_instances(paths, 3, ["reporting"]) as extra:
        assert [s.name for s in extra] == ["reporting-2", "reporting-3"]
        assert len({s.port for s in extra}) == 2
        pids = instance_pids(paths, extra)
        found |= {s: pids[s.name] for s in extra}
        for service in extra:
            assert httpx.get(service.health_url, timeout=5).status_code == 200
            assert paths.log(service.name).stat().st_size > 0
        asyncio.run(_members(client_settings(paths), own + 2))
        raise RunFailed


async def _members(settings: Settings, count: int) -> None:
    """Reporting's consumer group is stable with ``count`` members: the extra instances share
    its partitions with the stack's own."""
    async with Lag(aiokafka_kwargs(settings), settings) as lag:
        await lag.wait_members([settings.group("reporting")], count, 90)
