"""How long a case may sit in each state before managers see it as stuck, and whose move it is.

The protocol sets no period for most stages; these defaults are the service's reading, each
with its reason, and every area may override any of them (CASES_SERVICE_LEVEL_OVERRIDES, e.g.
'{"north": {"charging": 21}}'; null switches a state's service level off).
"""

from datetime import timedelta

from models.enums import CaseState, Role

# Days in the state before the case counts as stuck.
DEFAULT_SERVICE_LEVEL_DAYS: dict[CaseState, int | None] = {
    # Summary-only s.2/s.2A must be charged within six months of the last act (MCA 1980
    # s.127) and pre-charge bail runs three months (PACE s.47ZB): an investigation still open
    # after eight weeks risks both, so a manager should look at it.
    CaseState.INVESTIGATION: 56,
    # A referral waits only for a prosecutor to pick it up (§4.3 "full and early
    # consultation"): a week without a charging review means nobody has.
    CaseState.REFERRAL: 7,
    # The CPS's usual pre-charge decision standard is 28 days from a complete file.
    CaseState.CHARGING: 28,
    # Charge to first appearance: bailed defendants are usually listed within four weeks;
    # twice that means the listing or the file is held up.
    CaseState.PREPARATION: 56,
    # First appearance to pleas entered at a later hearing (PTPH): eight weeks.
    CaseState.PLEAS: 56,
    # Trial backlogs are long; six months from not-guilty pleas to a verdict is the point at
    # which a complainant's safety and support (§6) need a manager's attention.
    CaseState.TRIAL: 182,
    # A case stays in this state while its order is in force, often for years: time in the
    # state says nothing about progress, so there is no default (an area may set one).
    CaseState.RESTRAINING_ORDER: None,
    # A closed case is never stuck on time (its open deadlines still count).
    CaseState.CLOSED: None,
}

# Whose move it is when no overdue deadline names an owner: who takes the next step there.
STATE_OWNER: dict[CaseState, Role] = {
    CaseState.INVESTIGATION: Role.OFFICER_IN_CASE,
    CaseState.REFERRAL: Role.PROSECUTOR,
    CaseState.CHARGING: Role.PROSECUTOR,
    CaseState.PREPARATION: Role.PROSECUTOR,
    CaseState.PLEAS: Role.PROSECUTOR,
    CaseState.TRIAL: Role.PROSECUTOR,
    # After an order, the police enforce it and act on any breach (§9.5).
    CaseState.RESTRAINING_ORDER: Role.OFFICER_IN_CASE,
    CaseState.CLOSED: Role.OFFICER_IN_CASE,
}


def service_levels(overrides: dict[str, dict[CaseState, int | None]],
                   area: str) -> dict[CaseState, timedelta | None]:
    """Each state's service level in an area: the defaults, then the area's overrides."""
    days: dict[CaseState, int | None] = dict(DEFAULT_SERVICE_LEVEL_DAYS)
    for state, value in overrides.get(area, {}).items():
        days[CaseState(state)] = value
    return {s: None if d is None else timedelta(days=d) for s, d in days.items()}
