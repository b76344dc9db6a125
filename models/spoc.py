"""P4.1: the monthly contact between an area's police and CPS SPOCs, and its figures."""

from datetime import date

from pydantic import BaseModel


class AreaMonth(BaseModel):
    area: str
    first_day: date
    last_day: date


class SpocFigure(BaseModel):
    section: str
    measure: str
    value: int


class AreaFigures(BaseModel):
    """Reporting, referrals, charging and prosecutions in the area over the month (§4.1):
    the same figures as the `spoc-monthly` report."""

    area: str
    month: str
    figures: list[SpocFigure]

    def value(self, measure: str) -> int:
        return next(f.value for f in self.figures if f.measure == measure)
