"""The area's figures for the SPOCs' monthly contact (P4.1): the `spoc-monthly` report."""

from sqlalchemy import Engine
from sqlmodel import Session

from core.reports import Period, spoc_monthly
from models.spoc import AreaFigures, AreaMonth, SpocFigure
from workflows import activity_contracts as contracts
from workflows.activity_contracts import implements


class SpocContactActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @implements(contracts.area_figures)
    def area_figures(self, month: AreaMonth) -> AreaFigures:
        with Session(self._engine) as session:
            rows = spoc_monthly(session, month.area, Period(month.first_day, month.last_day))
        return AreaFigures(area=month.area, month=f"{month.first_day:%Y-%m}",
                           figures=[SpocFigure.model_validate(r) for r in rows])
