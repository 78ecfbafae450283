"""`baton bench --instances N`, the parts that need no process: the extra instances' names and
ports, the intake URLs taken in turn per request, CPU summed per service, and the scale-out
figures (partitions per group, records per partition)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition

from baton.measures import CpuMeter, per_service, scale_lines, scale_out
from baton.scenarios import Stack, _post_all
from baton.stack import (
    DEFAULT_PORTS,
    EXAMPLE_CONTRACT,
    StackError,
    free_ports,
    instance_name,
    more_instances,
    service_of,
)
from shared.contract import load_contract
from shared.settings import Settings


def test_an_instance_is_named_after_its_service_and_counts_back_to_it() -> None:
    assert instance_name("intake", 1) == "intake"
    assert instance_name("sla-clock", 2) == "sla-clock-2"
    for name in ("intake", "router", "sla-clock", "reporting"):
        for n in (1, 2, 12):
            assert service_of(instance_name(name, n)) == name


def test_more_instances_names_each_further_process_on_a_port_of_its_own() -> None:
    table = DEFAULT_PORTS.service_table()
    ports = free_ports(8)
    extra = more_instances(table, 3, ports)
    assert [s.name for s in extra] == [
        "intake-2", "router-2", "sla-clock-2", "reporting-2",
        "intake-3", "router-3", "sla-clock-3", "reporting-3",
    ]  # fmt: skip
    assert [s.module for s in extra] == [s.module for s in table] * 2
    assert [s.port for s in extra] == ports
    assert more_instances(table, 1, []) == []  # the stack's own processes only


@pytest.mark.parametrize("count", [0, -1])
def test_fewer_than_one_instance_is_refused_naming_the_option(count: int) -> None:
    with pytest.raises(StackError, match="--instances"):
        more_instances(DEFAULT_PORTS.service_table(), count, [])


def test_too_few_ports_are_refused() -> None:
    with pytest.raises(StackError, match="4 ports needed"):
        more_instances(DEFAULT_PORTS.service_table(), 2, [1, 2])


def _stack(*intakes: str) -> Stack:
    return Stack(
        intakes=intakes,
        reporting="http://r",
        bootstrap={},
        settings=Settings(topic_prefix="p.", group_prefix="g."),
        contract=load_contract(EXAMPLE_CONTRACT),
        pids={},
    )


def test_requests_go_to_the_intake_instances_in_turn() -> None:
    stack = _stack("http://a:1", "http://b:2")
    urls = [stack.intake_url(i) for i in range(5)]
    assert urls == [
        f"http://{host}/v1/alerts/alertmanager" for host in ("a:1", "b:2", "a:1", "b:2", "a:1")
    ]
    assert _stack("http://a:1").intake_url(7) == "http://a:1/v1/alerts/alertmanager"


async def test_post_all_spreads_every_body_over_the_instances_one_request_each() -> None:
    hosts: Counter[str] = Counter()

    def answer(request: httpx.Request) -> httpx.Response:
        hosts[request.url.host] += 1
        return httpx.Response(202)

    stack = _stack("http://a", "http://b", "http://c")
    bodies: list[dict[str, Any]] = [{"i": i} for i in range(30)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        started = await _post_all(client, stack.intake_url, bodies, concurrency=4)
    assert hosts == {"a": 10, "b": 10, "c": 10}
    assert all(at > 0 for at in started)


def test_cpu_of_every_instance_is_summed_under_its_service() -> None:
    used = {"intake": 1.0, "intake-2": 0.5, "sla-clock": 0.25, "sla-clock-2": 0.25, "router": 2.0}
    assert per_service(used) == {"intake": 1.5, "sla-clock": 0.5, "router": 2.0}


def test_the_cpu_meter_reads_each_instance_by_its_name() -> None:
    meter = CpuMeter({"intake": os.getpid(), "intake-2": os.getpid()})
    meter.start()
    sum(i * i for i in range(200_000))  # some CPU of our own
    used = meter.stop()
    assert set(used) == {"intake", "intake-2"}
    assert per_service(used) == {"intake": used["intake"] + used["intake-2"]}


def test_scale_out_names_partitions_per_group_and_the_records_each_partition_got() -> None:
    stack = _stack("http://a")
    before = {TopicPartition("p.alerts", p): 10 for p in range(3)}
    after = {TopicPartition("p.alerts", 0): 10, TopicPartition("p.alerts", 1): 60}
    after[TopicPartition("p.alerts", 2)] = 11
    scale = scale_out(stack.settings, 2, before, after)
    assert scale["instances"] == 2
    assert scale["partitions"]["intake.alerts"] == {"alerts": 3}
    assert scale["partitions"]["reporting"] == {"incidents": 3, "assignments": 3, "sla": 3}
    assert scale["records_per_partition"] == {"alerts": [0, 50, 1]}
    text = "\n".join(scale_lines(scale))
    assert "instances: 2 of each service" in text
    assert "idles" in text
    assert "alerts: [0, 50, 1]" in text


def test_the_cpu_meter_counts_a_process_with_its_children() -> None:
    """The router's sending process is its child: its CPU is the router's (issue 28's gap)."""
    meter = CpuMeter({"router": os.getpid()})
    meter.start()
    burn = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", burn + "time.sleep(30)"])
    try:
        live = 0.0
        for _ in range(600):  # until the child has burnt its CPU (it then sleeps, alive)
            live = meter.stop()["router"]
            if live >= 0.4:
                break
            time.sleep(0.05)
        assert live >= 0.4  # counted while the child runs
    finally:
        child.kill()
        child.wait()
    assert meter.stop()["router"] >= 0.4  # and once it has ended and been waited for
