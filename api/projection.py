"""The read model written from an accepted action's own answer, after the caller has it.

The Update's result is the whole case file at the new version, so the API can project it with
no second round trip. This is the fast path; the case's workflow projects the same version a
little later as the durable backstop (workflows/case.py), so a write that fails here (the
database down, a concurrent writer of the same case) is logged and left to it, never lost.
"""

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from activities.projection import write_case
from models.case import CaseFile

log = logging.getLogger("api.projection")


def project_answer(engine: Engine, case: CaseFile) -> None:
    try:
        with Session(engine) as session:
            write_case(session, case)
            session.commit()
    except SQLAlchemyError as err:
        # The reference and version only: the driver's message can quote personal data.
        log.warning("read model not written from the answer (%s); the workflow's backstop "
                    "writes it", type(err).__name__,
                    extra={"reference": case.reference, "version": case.version})
