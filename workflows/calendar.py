"""Working days on the England and Wales bank-holiday calendar, in Europe/London time.

Deadlines are counted in local calendar days and fall at a fixed local time, then converted
to UTC: across a clock change, a deadline stays at 17:00 London time.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
END_OF_WORKING_DAY = time(17, 0)
START_OF_WORKING_DAY = time(9, 0)


# England and Wales share one bank-holiday calendar (subdivision ENG covers both here).
# The table is built once at import, outside any workflow: the library reads the clock and the
# locale when it computes, which a workflow may not do (a case's workflow would fail on every
# task). It spans every year a case can meaningfully name (0.1 s to build); a date outside it
# (a typing slip such as 2-0-2-6 read as year 206, or 9999) counts weekends only, and never
# calls the library.
_TABLE_YEARS = range(1950, 2201)
_BANK_HOLIDAYS = frozenset(holidays.country_holidays("GB", subdiv="ENG", years=_TABLE_YEARS))


def _is_bank_holiday(day: date) -> bool:
    return day in _BANK_HOLIDAYS


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not _is_bank_holiday(day)


def local_date(moment: datetime) -> date:
    """The London calendar date of an instant."""
    return moment.astimezone(LONDON).date()


def london_today(now: datetime) -> date:
    """Today's date for the service: the date in London at `now`, whatever the UTC date.

    The one place that decides it (guards, workflows, reports): 23:30 UTC on 31 March in
    summer time is already 1 April.
    """
    return local_date(now)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (n may be negative: before it)."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def working_day_on_or_before(day: date) -> date:
    """`day` if it is a working day, else the last working day before it."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def at_local(day: date, when: time = END_OF_WORKING_DAY) -> datetime:
    """A local wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, when, tzinfo=LONDON).astimezone(UTC)


def working_days_after(moment: datetime, n: int, when: time = END_OF_WORKING_DAY) -> datetime:
    return at_local(add_working_days(local_date(moment), n), when)


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)
