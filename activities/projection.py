"""Projects a case file into the read model: an idempotent upsert keyed by case and version."""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deadline_projection import project_monitoring
from activities.linking import index_suspects
from core.db import lock_case
from models.case import CaseFile
from models.tables import CaseRow, HistoryRow


def case_row(case: CaseFile) -> CaseRow:
    return CaseRow(
        reference=case.reference, police_area=case.police_area, cps_area=case.cps_area,
        state=case.state.value, outcome=case.outcome.value if case.outcome else None,
        stalking=case.stalking, domestic_abuse=case.domestic_abuse, version=case.version,
        opened_at=case.opened_at, state_since=case.state_since,
        updated_at=datetime.now(UTC), complainants=len(case.complainants),
        charges=",".join(o.value for o in case.charges),
        # The column holds 2,000 characters; the case file keeps every link.
        linked_cases=",".join(link.reference for link in case.linked_cases)[:2000],
        next_deadline=case.deadlines[0].due_at if case.deadlines else None,
        overdue=any(case.deadline_marks[d.deadline_id].escalated_at for d in case.deadlines),
        orders_made=len(case.orders),
        breaches=sum(1 for i in case.incidents if i.kind == "order_breach"),
    )


def write_case(session: Session, case: CaseFile) -> None:
    """Write this version of the case if it is newer than the stored one, with its new
    history rows, and its deadlines and report facts.

    A retried or out-of-order projection never goes backwards and never duplicates. The
    projection activity, the API (api/projection.py) and the read-model rebuild
    (core/rebuild.py) all write through here, so a rebuilt row is exactly what the live
    projection would have written. A stored version was written with all its history in one
    transaction, so only entries after it are new.
    """
    lock_case(session, case.reference)  # the API and the workflow may both be writing it
    existing = session.get(CaseRow, case.reference)
    if existing is not None and existing.version > case.version:
        return  # an older snapshot: everything in it is stored already
    if existing is None or existing.version < case.version:
        stored = existing.version if existing is not None else 0
        # P3.8: suspects are only ever added (add_suspect), so the index changes only then.
        if existing is None or any(e.action == "add_suspect" and e.version > stored
                                   for e in case.history):
            index_suspects(session, case.reference, case.police_area, case.suspects)
        if existing is None:
            session.add(case_row(case))
        else:
            for key, value in case_row(case).model_dump().items():
                setattr(existing, key, value)
        known = set() if existing is not None else set(session.exec(
            select(HistoryRow.version).where(HistoryRow.reference == case.reference)))
        for entry in case.history:
            if entry.version > stored and entry.version not in known:
                session.add(HistoryRow(
                    reference=case.reference, version=entry.version, at=entry.at,
                    action=entry.action, actor_id=entry.actor.user_id,
                    actor_role=entry.actor.role.value, state_before=entry.state_before.value,
                    state_after=entry.state_after.value, summary=entry.summary))
    # The same version again may carry new deadline marks (a reminder sent, a delivery failing).
    project_monitoring(session, case)  # deadlines and report facts for managers' views


class ReadModelActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="project_case")
    def project_case(self, case: CaseFile) -> int:
        """Project one version of the case (write_case) in its own transaction.

        A database failure is retried by Temporal; it is reported in one short line (the
        driver's own message can exceed Temporal's failure size and quote row values).
        """
        try:
            with Session(self._engine) as session:
                write_case(session, case)
                session.commit()
        except SQLAlchemyError as err:
            raise ApplicationError(
                f"read model unavailable: {type(err).__name__}", type="ReadModelUnavailable"
            ) from None
        return case.version
