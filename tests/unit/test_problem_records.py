"""Problem records (issue 27 item 3, ADR 48): the same origin failing again and again.

On the example contract (Baton's defaults: 3 incidents within 30 days): the third incident on
pg-acc within the window opens one problem record owned by the DBMS layer's primary and told to
it and the coordinator; the fourth links to it; incidents outside the window or on another
origin do not count; a problem is opened once whatever is replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.problems import OriginIncident, Problem, decide, recipients

from shared.contract import load_contract
from shared.events import EventType, ProblemLinkedV1, ProblemOpenedV1

CONTRACT = load_contract(Path(__file__).resolve().parents[2] / "examples" / "contract")
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
D = timedelta(days=1)
DBMS_PRIMARY = next(a.primary for a in CONTRACT.layers if a.layer == "dbms")


def seen(*days: int, origin: str = "pg-acc") -> list[OriginIncident]:
    return [OriginIncident(f"inc-{n}", origin, T0 + n * D) for n in days]


def test_two_incidents_open_no_problem() -> None:
    assert decide(None, seen(0, 5), "inc-5", CONTRACT, T0 + 5 * D) == (None, [])


def test_the_third_within_the_window_opens_one_problem_owned_by_the_layer_primary() -> None:
    problem, [event] = decide(None, seen(0, 5, 9), "inc-9", CONTRACT, T0 + 9 * D)
    assert problem is not None
    assert (problem.owner, problem.coordinator) == (DBMS_PRIMARY, CONTRACT.coordinator)
    assert problem.incidents == ["inc-0", "inc-5", "inc-9"]
    assert problem.fix_due == T0 + 9 * D + timedelta(days=14)
    assert problem.status == "open"
    data = event.data_as(ProblemOpenedV1)
    assert (data.origin_object, data.owner, data.threshold) == ("pg-acc", DBMS_PRIMARY, 3)
    assert event.subject == "inc-9"
    assert recipients(event) == [DBMS_PRIMARY, CONTRACT.coordinator]
    again, [same] = decide(None, seen(0, 5, 9), "inc-9", CONTRACT, T0 + 9 * D)
    assert same.id == event.id
    assert again == problem


def test_the_fourth_links_to_the_open_problem() -> None:
    problem, _ = decide(None, seen(0, 5, 9), "inc-9", CONTRACT, T0 + 9 * D)
    linked, [event] = decide(problem, seen(0, 5, 9, 12), "inc-12", CONTRACT, T0 + 12 * D)
    assert linked is not None
    assert linked.incidents == ["inc-0", "inc-5", "inc-9", "inc-12"]
    data = event.data_as(ProblemLinkedV1)
    assert (data.problem_id, data.incident_id, data.incidents) == (
        problem.id,  # type: ignore[union-attr]
        "inc-12",
        4,
    )
    assert event.type == EventType.PROBLEM_LINKED
    assert decide(linked, seen(0, 5, 9, 12), "inc-12", CONTRACT, T0 + 12 * D) == (linked, [])


def test_incidents_outside_the_window_do_not_count() -> None:
    # day 0 is 31 days before day 31: only two inside 30 days
    assert decide(None, seen(0, 25, 31), "inc-31", CONTRACT, T0 + 31 * D) == (None, [])


def test_a_contract_sets_its_own_threshold() -> None:
    strict = CONTRACT.model_copy(
        update={"problems": CONTRACT.problems.model_copy(update={"incidents": 2})}
    )
    problem, _ = decide(None, seen(0, 1), "inc-1", strict, T0 + D)
    assert isinstance(problem, Problem)


def test_the_count_does_not_depend_on_the_order_incidents_arrive_in() -> None:
    """The router reads incidents from three partitions: day 13 may come before day 6; the
    window ends at the newest incident, not at the one just read."""
    problem, [event] = decide(None, seen(0, 13, 6), "inc-6", CONTRACT, T0 + 13 * D)
    assert problem is not None
    assert problem.incidents == ["inc-0", "inc-6", "inc-13"]
    assert event.subject == "inc-6"
