"""P4.1: the monthly contact between an area's police and CPS SPOCs, and its figures."""

from datetime import datetime

from pydantic import BaseModel


class AreaMonth(BaseModel):
    area: str
    month_start: datetime
    month_end: datetime


class AreaFigures(BaseModel):
    """Reporting, referrals, charging and prosecutions in the area over the month (§4.1)."""

    area: str
    month: str
    reported: int
    referred: int
    charged: int
    charged_stalking: int
    charged_harassment: int
    prosecutions_concluded: int
    orders_made: int
    overdue_deadlines: int
