"""My work, from the read model: a deadline is mine when the case names me for the role that
owns it; a case awaits my move when it names me for the role whose move its state is."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from models.case import Actor
from models.enums import Role
from models.monitoring import DeadlineRow
from models.tables import CaseRow, CaseTeamRow
from readmodel.work import my_work

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _case(session: Session, reference: str, area: str, state: str,
          team: dict[str, str]) -> None:
    session.add(CaseRow(reference=reference, police_area=area, cps_area=area, state=state,
                        stalking=True, domestic_abuse=False, version=3, opened_at=NOW,
                        state_since=NOW - timedelta(days=len(reference)), updated_at=NOW))
    for role, user in team.items():
        session.add(CaseTeamRow(reference=reference, role=role, user_id=user))


def _deadline(session: Session, reference: str, kind: str, owner: str, due_in_hours: float,
              met: bool = False) -> None:
    session.add(DeadlineRow(reference=reference, deadline_id=kind, version=3, kind=kind,
                            rule="P6.4", description=f"{kind} of {reference}", owner_role=owner,
                            due_at=NOW + timedelta(hours=due_in_hours), opened_at=NOW,
                            met_at=NOW if met else None))


def test_my_deadlines_overdue_first_and_my_cases_awaiting_my_move(engine):
    area, me = f"mine-{uuid.uuid4().hex[:6]}", f"oic-{uuid.uuid4().hex[:6]}"
    with Session(engine) as session:
        _case(session, f"{area.upper()}-A", area, "investigation", {"officer_in_case": me})
        _case(session, f"{area.upper()}-B", area, "referral",  # the prosecutor's move
              {"officer_in_case": me, "prosecutor": "someone"})
        _case(session, f"{area.upper()}-C", area, "closed", {"officer_in_case": me})
        _case(session, f"{area.upper()}-X", f"{area}-x", "investigation",
              {"officer_in_case": me})  # another area's, though it names the same id
        _deadline(session, f"{area.upper()}-A", "risk_review", "officer_in_case", 48)
        _deadline(session, f"{area.upper()}-B", "contact_details", "officer_in_case", -2)
        _deadline(session, f"{area.upper()}-B", "addendum_vps", "witness_care", -5)  # not mine
        _deadline(session, f"{area.upper()}-A", "met_one", "officer_in_case", -9, met=True)
        _deadline(session, f"{area.upper()}-X", "elsewhere", "officer_in_case", -9)
        session.commit()
        work = my_work(session, Actor(user_id=me, role=Role.OFFICER_IN_CASE, area=area), NOW)
    assert [(d.reference, d.kind, d.overdue) for d in work.deadlines] == [
        (f"{area.upper()}-B", "contact_details", True),
        (f"{area.upper()}-A", "risk_review", False)]
    assert [(c.reference, c.role) for c in work.awaiting] == [
        (f"{area.upper()}-A", "officer_in_case")]
