"""GET /cases/stuck builds one page from SQL (readmodel/stuck_page.py): it must give exactly the
page and total that building every stuck case (stuck_cases) gives, for every sort and filter."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from core.service_levels import service_levels
from models.enums import CaseState
from models.monitoring import PROBLEM_DEADLINE, AlertRow, DeadlineRow, Reason
from models.tables import CaseRow, CaseTeamRow
from readmodel.stuck import problem_deadline, stuck_cases
from readmodel.stuck_page import stuck_page

NOW = datetime.now(UTC).replace(microsecond=0)
RISKS = ["high", "medium", "standard", None]


@pytest.fixture(scope="module")
def area(engine: Any) -> str:
    """Forty cases of a fresh area: over service level, overdue, failing, alerted, or fine."""
    area = f"page-{uuid.uuid4().hex[:8]}"
    states = [CaseState.INVESTIGATION, CaseState.CHARGING, CaseState.TRIAL,
              CaseState.RESTRAINING_ORDER]
    with Session(engine) as session:
        for i in range(40):
            ref = f"PG-{area[-8:].upper()}-{i:03d}"
            state = states[i % len(states)]
            since = NOW - timedelta(days=3 * i + 1)
            # Some are the CPS area's cases from another police area: both ways of belonging.
            police_area = f"{area}-police" if i % 13 == 5 else area
            session.add(CaseRow(reference=ref, police_area=police_area, cps_area=area,
                                state=state.value,
                                stalking=True, domestic_abuse=i % 4 == 1, version=2,
                                opened_at=since - timedelta(days=5), state_since=since,
                                updated_at=since, risk_level=RISKS[i % 4],
                                repeat_perpetrator=i % 5 == 0, breaches=int(i % 6 == 0)))
            if i % 2 == 0:  # half name an officer, a third a prosecutor: the rest nobody
                session.add(CaseTeamRow(reference=ref, role="officer_in_case",
                                        user_id=f"oic-{i}"))
            if i % 3 == 0:
                session.add(CaseTeamRow(reference=ref, role="prosecutor", user_id=f"cps-{i}"))
            if i % 3 == 0:  # an overdue, escalated deadline (some cases two)
                for n in range(1 + i % 2):
                    due = NOW - timedelta(days=i + n + 1, hours=n)
                    session.add(DeadlineRow(
                        reference=ref, deadline_id=f"risk_review:{n}", version=2,
                        kind="risk_review", rule="P3.7", description=f"review {i}-{n}",
                        owner_role="officer_in_case", due_at=due, remind_at=due,
                        opened_at=since, escalated_at=due))
            if i % 7 == 0:
                session.add(DeadlineRow(
                    reference=ref, deadline_id="hearing_reminder", version=2,
                    kind="hearing_reminder", rule="V7", description=f"hearing {i}",
                    owner_role="witness_care", due_at=NOW + timedelta(days=3),
                    remind_at=NOW - timedelta(days=1), opened_at=since, failing="smtp 451"))
            if i % 11 == 0:
                session.add(AlertRow(
                    reference=ref, alert_id="activity:project_case",
                    kind="failing_workflow_task" if i % 2 else "failing_activity",
                    police_area=area, state=state.value, state_since=since,
                    subject="project_case", attempts=5, first_seen=NOW - timedelta(hours=i),
                    last_seen=NOW))
            if i % 17 == 3:  # its workflow terminated (with a case row)
                session.add(AlertRow(
                    reference=ref, alert_id=f"workflow_ended:run-{i}", kind="workflow_ended",
                    police_area=police_area, state=state.value, state_since=since,
                    subject="terminated", last_failure="by an operator",
                    first_seen=NOW - timedelta(hours=i), last_seen=NOW))
        for n, kind in enumerate(("failing_workflow_task", "failing_activity",
                                  "workflow_ended")):
            # The sweeper saw a case failing, or its workflow ended, before its first projection:
            # no case row yet.
            session.add(AlertRow(
                reference=f"PG-{area[-8:].upper()}-NEW{n}", alert_id="activity:project_case",
                kind=kind, police_area=area, state=CaseState.TRIAL.value,
                state_since=NOW - timedelta(days=50 + n), subject="project_case", attempts=3,
                first_seen=NOW - timedelta(hours=1), last_seen=NOW))
        session.commit()
    return area


def _norm(cases: list[Any]) -> list[dict[str, Any]]:
    return [{**c.model_dump(), "reasons": sorted(r.model_dump_json() for r in c.reasons)}
            for c in cases]


@pytest.mark.parametrize("sort", ["age", "due"])
@pytest.mark.parametrize("reason", [None, *Reason])
@pytest.mark.parametrize("state", [None, CaseState.TRIAL])
def test_a_page_from_sql_is_the_page_of_the_whole_list(engine: Any, area: str, sort: str,
                                                       reason: Reason | None,
                                                       state: CaseState | None) -> None:
    levels = service_levels({}, area)
    with Session(engine) as session:
        whole = stuck_cases(session, area, levels, NOW, reason=reason, state=state,
                            sort=sort)  # type: ignore[arg-type]
        if reason is None and state is None:
            assert len(whole) > 20, "the seed makes most kinds of stuck case"
        for offset, limit in [(0, 7), (7, 7), (0, 100), (len(whole), 5)]:
            page = stuck_page(session, area, levels, NOW, reason=reason, state=state,
                              sort=sort, limit=limit, offset=offset)  # type: ignore[arg-type]
            assert (page.total, page.total_is_exact) == (len(whole), True)
            assert _norm(page.items) == _norm(whole[offset:offset + limit])


@pytest.mark.parametrize("cap", [1, 10, 1000])
def test_the_total_is_exact_up_to_its_cap(engine: Any, area: str, cap: int) -> None:
    levels = service_levels({}, area)
    with Session(engine) as session:
        whole = stuck_cases(session, area, levels, NOW)
        page = stuck_page(session, area, levels, NOW, limit=5, count_cap=cap)
    assert page.total == min(len(whole), cap)
    assert page.total_is_exact is (len(whole) <= cap)
    assert _norm(page.items) == _norm(whole[:5])  # the page never depends on the cap


@pytest.mark.parametrize("sort", ["age", "due"])
def test_the_unassigned_page_is_the_page_of_the_whole_list(engine: Any, area: str,
                                                           sort: str) -> None:
    levels = service_levels({}, area)
    with Session(engine) as session:
        whole = stuck_cases(session, area, levels, NOW, sort=sort,  # type: ignore[arg-type]
                            unassigned=True)
        assert whole and all(c.unassigned and c.owner_user is None for c in whole)
        page = stuck_page(session, area, levels, NOW, sort=sort,  # type: ignore[arg-type]
                          limit=5, offset=2, unassigned=True)
    assert page.total == len(whole) and _norm(page.items) == _norm(whole[2:7])


def test_each_case_names_its_owners_user_and_shows_its_risk(engine: Any, area: str) -> None:
    with Session(engine) as session:
        cases = stuck_cases(session, area, service_levels({}, area), NOW)
    named = [c for c in cases if c.owner_user is not None]
    assert named and all((c.owner_user or "").split("-")[0] in ("oic", "cps") for c in named)
    assert {c.risk_level for c in cases} >= {"high", "medium", "standard", None}
    assert any(c.domestic_abuse for c in cases) and any(c.repeat_perpetrator for c in cases)
    assert any(c.breach for c in cases)
    # The workflow-ended cases are the administrator's move: nobody's on the team to name.
    ended = [c for c in cases if any(r.reason is Reason.WORKFLOW_ENDED for r in c.reasons)]
    assert ended and all(not c.unassigned for c in ended)


@pytest.mark.parametrize("sort", ["age", "due"])
def test_a_page_takes_the_same_queries_whatever_its_size(engine: Any, area: str,
                                                         sort: str) -> None:
    """The case team (the owner's person) is loaded for the page in one query, never per case."""
    levels = service_levels({}, area)

    def statements(limit: int) -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            with Session(engine) as session:
                page = stuck_page(session, area, levels, NOW, sort=sort,  # type: ignore[arg-type]
                                  limit=limit)
                assert len(page.items) == limit
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    assert statements(2) == statements(20)


def test_the_index_of_problem_deadlines_holds_the_rules_condition(engine: Any) -> None:
    """The partial index repeats problem_deadline() as fixed text: the two must not drift."""
    compiled = str(problem_deadline().compile(engine, compile_kwargs={"literal_binds": True}))
    assert compiled.replace("case_deadlines.", "") == PROBLEM_DEADLINE
