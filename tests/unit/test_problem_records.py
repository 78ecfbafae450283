"""Problem records (issue 27 item 3, ADR 48): the same origin failing again and again.

On the example contract (Baton's defaults: 3 incidents within 30 days): the third incident on
pg-acc within the window opens one problem record owned by the DBMS layer's primary and told to
it and the coordinator; the fourth links to it; incidents outside the window or on another
origin do not count; a problem is opened once whatever is replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from router.problems import OriginIncident, Problem, close, decide, origin_of, recipients

from shared.contract import Contract, load_contract
from shared.contract.view import ContractView
from shared.events import (
    EventType,
    ProblemClosedV1,
    ProblemCloseRefusedV1,
    ProblemCloseRequestedV1,
    ProblemLinkedV1,
    ProblemOpenedV1,
    ProblemOpenedV2,
)

CONTRACT = load_contract(Path(__file__).resolve().parents[2] / "examples" / "contract")
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
D = timedelta(days=1)
DBMS_PRIMARY = next(a.primary for a in CONTRACT.layers if a.layer == "dbms")


def seen(*days: int, origin: str = "pg-acc") -> list[OriginIncident]:
    return [OriginIncident(f"inc-{n}", origin, T0 + n * D) for n in days]


def test_two_incidents_open_no_problem() -> None:
    assert decide(None, seen(0, 5), "inc-5", ContractView.of(CONTRACT), T0 + 5 * D) == (None, [])


def test_the_third_within_the_window_opens_one_problem_owned_by_the_layer_primary() -> None:
    problem, [event] = decide(None, seen(0, 5, 9), "inc-9", ContractView.of(CONTRACT), T0 + 9 * D)
    assert problem is not None
    assert (problem.owner, problem.coordinator) == (DBMS_PRIMARY, CONTRACT.coordinator)
    assert problem.incidents == ["inc-0", "inc-5", "inc-9"]
    assert problem.fix_due == T0 + 9 * D + timedelta(days=14)
    assert problem.status == "open"
    data = event.data_as(ProblemOpenedV1)
    assert (data.origin_object, data.owner, data.threshold) == ("pg-acc", DBMS_PRIMARY, 3)
    assert event.subject == "inc-9"
    assert recipients(event) == [DBMS_PRIMARY, CONTRACT.coordinator]
    again, [same] = decide(None, seen(0, 5, 9), "inc-9", ContractView.of(CONTRACT), T0 + 9 * D)
    assert same.id == event.id
    assert again == problem


def test_the_fourth_links_to_the_open_problem() -> None:
    problem, _ = decide(None, seen(0, 5, 9), "inc-9", ContractView.of(CONTRACT), T0 + 9 * D)
    linked, [event] = decide(
        problem, seen(0, 5, 9, 12), "inc-12", ContractView.of(CONTRACT), T0 + 12 * D
    )
    assert linked is not None
    assert linked.incidents == ["inc-0", "inc-5", "inc-9", "inc-12"]
    data = event.data_as(ProblemLinkedV1)
    assert (data.problem_id, data.incident_id, data.incidents) == (
        problem.id,  # type: ignore[union-attr]
        "inc-12",
        4,
    )
    assert event.type == EventType.PROBLEM_LINKED
    assert decide(linked, seen(0, 5, 9, 12), "inc-12", ContractView.of(CONTRACT), T0 + 12 * D) == (
        linked,
        [],
    )


def test_incidents_outside_the_window_do_not_count() -> None:
    # day 0 is 31 days before day 31: only two inside 30 days
    assert decide(None, seen(0, 25, 31), "inc-31", ContractView.of(CONTRACT), T0 + 31 * D) == (
        None,
        [],
    )


def test_a_contract_sets_its_own_threshold() -> None:
    strict = CONTRACT.model_copy(
        update={"problems": CONTRACT.problems.model_copy(update={"incidents": 2})}
    )
    problem, _ = decide(None, seen(0, 1), "inc-1", ContractView.of(strict), T0 + D)
    assert isinstance(problem, Problem)


def test_the_count_does_not_depend_on_the_order_incidents_arrive_in() -> None:
    """The router reads incidents from three partitions: day 13 may come before day 6; the
    window ends at the newest incident, not at the one just read."""
    problem, [event] = decide(None, seen(0, 13, 6), "inc-6", ContractView.of(CONTRACT), T0 + 13 * D)
    assert problem is not None
    assert problem.incidents == ["inc-0", "inc-6", "inc-13"]
    assert event.subject == "inc-6"


def _open_problem() -> Problem:
    problem, _ = decide(None, seen(0, 5, 9), "inc-9", ContractView.of(CONTRACT), T0 + 9 * D)
    assert problem is not None
    return problem


def _request(
    party: str, cause: str = "WAL disk filled", changed: tuple[str, ...] = ("alert at 80%",)
) -> ProblemCloseRequestedV1:
    return ProblemCloseRequestedV1(
        problem_id=_open_problem().id,
        party=party,
        actor="lead",
        cause=cause,
        changed=list(changed),
        at=T0 + 20 * D,
    )


def test_the_owner_closes_a_problem_with_its_cause_and_what_was_changed() -> None:
    problem = _open_problem()
    closed, [event] = close(problem, _request(DBMS_PRIMARY), CONTRACT, T0 + 20 * D)
    assert (closed.status, closed.cause, closed.changed) == (
        "closed",
        "WAL disk filled",
        ["alert at 80%"],
    )
    data = event.data_as(ProblemClosedV1)
    assert (data.problem_id, data.closed_by, data.cause) == (
        problem.id,
        f"{DBMS_PRIMARY}:lead",
        "WAL disk filled",
    )
    assert event.subject == "inc-9"  # on the timeline of its latest incident
    assert recipients(event) == [DBMS_PRIMARY, CONTRACT.coordinator]


@pytest.mark.parametrize(
    ("party", "cause", "changed", "why"),
    [
        ("hw", "x", ("y",), "only the problem's owner or the coordinator closes it"),
        (DBMS_PRIMARY, " ", ("y",), "cause: a problem closes with its root cause"),
        (DBMS_PRIMARY, "x", (), "changed: a problem closes with what was changed"),
    ],
)
def test_a_close_without_its_party_cause_or_changes_is_refused(
    party: str, cause: str, changed: tuple[str, ...], why: str
) -> None:
    problem = _open_problem()
    same, [event] = close(problem, _request(party, cause, changed), CONTRACT, T0 + 20 * D)
    assert same == problem
    assert event.data_as(ProblemCloseRefusedV1).reason == why


def test_a_closed_problem_is_not_closed_again() -> None:
    closed, _ = close(_open_problem(), _request(DBMS_PRIMARY), CONTRACT, T0 + 20 * D)
    again, [event] = close(closed, _request(CONTRACT.coordinator), CONTRACT, T0 + 21 * D)
    assert again == closed
    assert event.data_as(ProblemCloseRefusedV1).reason == "problem: already closed"


# --------------------------------------------------------------------------- grouping


def grouped(group_by: str) -> Contract:
    return CONTRACT.model_copy(
        update={"problems": CONTRACT.problems.model_copy(update={"group_by": group_by})}
    )


def test_by_default_an_origin_is_one_object() -> None:
    """Baton's default (``problems.group_by: object``): each object counts alone, even when
    the contract groups it with others."""
    assert CONTRACT.problems.group_by == "object"
    assert origin_of(CONTRACT, "pos-astana") == ("pos-astana", None)


def test_the_contracts_grouping_counts_a_groups_objects_together() -> None:
    """Issue 27.3 "the same origin (object, or the contract's grouping)": with
    ``problems.group_by: group`` the objects of one of the contract's groups are one origin —
    the checkout terminals of two stores failing in turn open one problem, on the object that
    made the count, owned by its layer's primary, and the group is named."""
    contract = grouped("group")
    key, group = origin_of(contract, "pos-astana")
    assert (key, group) == ("group:checkouts", "checkouts")
    assert origin_of(contract, "pos-shymkent") == (key, group)
    assert origin_of(contract, "srv-pg-01") == ("srv-pg-01", None)  # in no group: alone
    history = [
        OriginIncident("inc-0", key, T0),
        OriginIncident("inc-5", key, T0 + 5 * D),
        OriginIncident("inc-9", key, T0 + 9 * D),
    ]
    problem, [event] = decide(
        None, history, "inc-9", ContractView.of(contract), T0 + 9 * D, object_id="pos-shymkent"
    )
    assert problem is not None
    assert (problem.origin, problem.origin_object) == (key, "pos-shymkent")
    data = event.data_as(ProblemOpenedV2)
    hardware = next(a.primary for a in CONTRACT.layers if a.layer == "hardware")
    assert (data.origin_object, data.group, data.owner) == ("pos-shymkent", "checkouts", hardware)
    assert data.incidents == ["inc-0", "inc-5", "inc-9"]
    linked, [more] = decide(
        problem,
        [*history, OriginIncident("inc-12", key, T0 + 12 * D)],
        "inc-12",
        ContractView.of(contract),
        T0 + 12 * D,
        object_id="pos-astana",
    )
    assert linked is not None
    assert more.data_as(ProblemLinkedV1).origin_object == "pos-shymkent"  # where it opened


def test_an_object_in_two_groups_counts_in_the_first_the_contract_lists() -> None:
    doc = CONTRACT.model_dump(mode="json")
    doc["groups"] = {
        "stores": {"name": "Store equipment", "objects": ["pos-shymkent", "pos-astana"]},
        **doc["groups"],
    }
    doc["problems"]["group_by"] = "group"
    contract = Contract.model_validate(doc)
    assert origin_of(contract, "pos-astana") == ("group:stores", "stores")
