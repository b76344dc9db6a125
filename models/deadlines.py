"""Deadlines: the TIMER rules' obligations, their per-area periods, and what was done about them."""

from datetime import datetime

from pydantic import BaseModel, Field

from models.enums import Role


class DeadlinePolicy(BaseModel):
    """Every default period, with its source. Each area may override any of them.

    Where sources differ or are silent, the shorter period (the one that protects the
    complainant) is taken, and the comment says so.
    """

    # Every deadline counted in days falls on a working day: one that would fall on a weekend or
    # an England and Wales bank holiday is brought forward to the working day before. That is
    # the protective reading, and the only safe one for limits that end on their date whatever
    # the day (pre-charge bail, MCA 1980 s.127). Deadlines counted in hours stay on the clock.
    # False keeps calendar days, as runs recorded before this rule computed them.
    day_deadlines_on_working_days: bool = True
    # P6.4: the case team's named police SPOC is the complainant's SPOC. False keeps only the
    # SPOC written into the contact details, as runs recorded before the case team did.
    team_spoc_is_named_spoc: bool = True
    # P3.7: "kept under constant review"; the protocol sets no interval. 28 days is the
    # service's default; a new incident, breach or change of circumstances makes it due at once.
    risk_review_days: int = 28
    # "At once" is read as within one working day of the incident being recorded.
    risk_review_after_incident_working_days: int = 1
    # P4.9, P6.9, P9.4 and hearing outcomes: stalking and harassment complainants get the
    # Victims' Code enhanced service (protocol §6.3), so decisions reach them within 1 working
    # day rather than 5 (Victims' Code 2020, Rights 6 and 7).
    tell_complainant_working_days: int = 1
    # P4.7: each action-plan item has its agreed date; the owner is reminded this many working
    # days before it.
    action_plan_reminder_working_days: int = 2
    # P4.13 and P9.5: "expeditious and robust action". No period is given; 24 hours is the
    # protective reading (a breach is a risk now, not next week).
    breach_action_hours: int = 24
    # P5.6: no period given; a decision on proceeding within 5 working days of a withdrawal.
    withdrawal_decision_working_days: int = 5
    # P5.8: a safety check is pending from a withdrawal (a summons may be considered);
    # due within 2 working days, since the complainant may be under pressure (§5.5).
    safety_check_working_days: int = 2
    # P6.4: SPOC and preferred means agreed "in every case"; missing details fall due early.
    contact_details_working_days: int = 1
    # P6.8: addendum VPS offered after a guilty plea or conviction, before sentence.
    addendum_vps_working_days: int = 5
    # P9.2: details re-verified "shortly before the hearing": due this many working days before
    # a listed hearing at which an order may be sought; a check older than 14 days is stale.
    reverify_before_hearing_working_days: int = 3
    # PACE 1984 s.47ZB (as amended by the Police, Crime, Sentencing and Courts Act 2022):
    # pre-charge bail runs 3 months, extendable to 6 (inspector), 9 (superintendent), then by a
    # court. The owner is reminded this many working days before it ends.
    bail_period_months: int = 3
    bail_reminder_working_days: int = 10
    # Magistrates' Courts Act 1980 s.127: 6 months from the last act in the course of conduct
    # to lay an information for a summary-only offence (s.2, s.2A).
    summary_time_limit_months: int = 6
    summary_time_limit_reminder_days: int = 28
    # Witness care reminds and checks the complainant's needs this many working days before
    # each hearing (Victims' Code Right 7: told of hearing dates; Witness Charter).
    hearing_reminder_working_days: int = 5
    # Stalking Protection Act 2019 s.7: an order that ends on a date may be renewed or varied on
    # the police's application, which the court must hear before it ends. The officer decides
    # this many days before the end (brought forward to a working day), reminded this many
    # working days before that.
    spo_review_days_before_end: int = 28
    spo_review_reminder_working_days: int = 5
    # The lead time of every reminder that has no lead of its own.
    default_reminder_hours: int = 4


class Deadline(BaseModel):
    """One open obligation. Its id is stable while it stays open, so marks attach to it."""

    deadline_id: str
    kind: str
    rule: str
    description: str
    subject: str | None = None
    due_at: datetime
    remind_at: datetime
    owner_role: Role
    owner: str | None = None
    escalate_to: list[Role] = Field(default_factory=lambda: [Role.MANAGER])


class DeadlineMarks(BaseModel):
    """What the workflow did about a deadline: reminded, escalated, met."""

    opened_at: datetime
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    met_at: datetime | None = None
    failing: str | None = Field(default=None, description="The last delivery failure, if any.")


def deadline_kind(deadline_id: str) -> str:
    """The kind of a deadline from its id: ids are "<kind>" or "<kind>:<subject>"
    (workflows/deadlines.py)."""
    return deadline_id.split(":", 1)[0]
