"""The workflow's durable backstop for the read model (readmodel/projection.py writes it)."""

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from models.actions import ProjectionInput
from models.case import CaseFile
from readmodel.projection import missing_versions, write_case, write_entries
from workflows import activity_contracts as contracts
from workflows.activity_contracts import implements


def _unavailable(err: SQLAlchemyError) -> ApplicationError:
    # One short line: the driver's own message can exceed Temporal's failure size and quote
    # row values. Temporal retries it.
    return ApplicationError(f"read model unavailable: {type(err).__name__}",
                            type="ReadModelUnavailable")


class ReadModelActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @implements(contracts.project_case)
    def project_case(self, projection: ProjectionInput | CaseFile) -> int:
        """Write history entries once and, when given, the case's facts, in one transaction.

        (A bare case file is the input of runs recorded before entries travelled apart.)
        """
        if isinstance(projection, CaseFile):
            projection = ProjectionInput(reference=projection.reference, case=projection)
        try:
            with Session(self._engine) as session:
                if projection.case is not None:
                    write_case(session, projection.case, projection.entries)
                else:
                    write_entries(session, projection.reference, projection.entries)
                session.commit()
        except SQLAlchemyError as err:
            raise _unavailable(err) from None
        return projection.case.version if projection.case else 0

    @implements(contracts.history_versions_missing)
    def history_versions_missing(self, projection: ProjectionInput) -> list[int]:
        """Which of these entries' versions the read model lacks (the API writes most)."""
        try:
            with Session(self._engine) as session:
                return missing_versions(session, projection.reference,
                                        [e.version for e in projection.entries])
        except SQLAlchemyError as err:
            raise _unavailable(err) from None
