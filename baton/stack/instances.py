"""More processes of each service beside a running stack's own (`baton bench --instances N`).

Each extra instance is the service as the stack runs it — the same module, environment and
credentials (``start_services``) — on a free port of its own, named ``<service>-<n>``
(``intake-2``, ``sla-clock-3``), with ``logs/<name>.log`` and ``run/<name>.pid`` in the stack's
folders; ``baton stack down`` stops any left behind with the rest. Consumers join their
service's consumer groups, so Kafka splits the partitions between the instances (one beyond a
topic's partition count idles); intake's HTTP side takes whatever requests are sent to its port.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from baton.stack.layout import (
    STOP_GRACE_SECONDS,
    Service,
    StackError,
    StackPaths,
    _stack_lock,
    free_ports,
    instance_name,
    log,
    stack_ports,
)
from baton.stack.lifecycle import start_services
from baton.stack.processes import _running_pid, _terminate


def more_instances(table: Sequence[Service], count: int, ports: Sequence[int]) -> list[Service]:
    """Instances 2 … ``count`` of every service of ``table``, each on the next of ``ports``."""
    if count < 1:
        raise StackError(f"--instances: {count}; at least 1 (the stack's own processes)")
    wanted = [(s, n) for n in range(2, count + 1) for s in table]
    if len(ports) < len(wanted):
        raise StackError(f"{len(wanted)} ports needed for {len(wanted)} instances, got {ports}")
    return [
        Service(instance_name(service.name, n), service.module, port)
        for (service, n), port in zip(wanted, ports[: len(wanted)], strict=True)
    ]


def instance_pids(paths: StackPaths, instances: Sequence[Service]) -> dict[str, int]:
    """The process id of each of ``instances`` that runs (for CPU accounting)."""
    found = {s.name: _running_pid(paths.pidfile(s.name)) for s in instances}
    return {name: pid for name, pid in found.items() if pid is not None}


def stop_instances(paths: StackPaths, instances: Sequence[Service]) -> None:
    """Stop ``instances`` (those that run) and remove their pid files."""
    with _stack_lock(paths):
        running = instance_pids(paths, instances)
        if running:
            log.info("Stopping %s…", ", ".join(running))
            _terminate(list(running.values()), STOP_GRACE_SECONDS)
        for service in instances:
            paths.pidfile(service.name).unlink(missing_ok=True)


@contextlib.contextmanager
def extra_instances(
    paths: StackPaths,
    count: int,
    services: Sequence[str] | None = None,
    timeout: float = 120.0,
) -> Iterator[list[Service]]:
    """Run instances 2 … ``count`` of each service (all, or those named) beside the stack's
    own while the block runs; stopped after it, also on an error or Ctrl-C. Instances a killed
    run left behind under the same names are stopped first (they run on other ports)."""
    table = [
        s for s in stack_ports(paths).service_table() if services is None or s.name in services
    ]
    extra = more_instances(table, count, free_ports(len(table) * (count - 1)))
    if not extra:
        yield []
        return
    stop_instances(paths, extra)
    try:
        with _stack_lock(paths):
            start_services(paths, extra, timeout, stack_ports(paths))
        yield extra
    finally:
        stop_instances(paths, extra)


__all__ = ["extra_instances", "instance_pids", "more_instances", "stop_instances"]
