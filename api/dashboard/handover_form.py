"""The handover page's form: the area's people to choose from (with how many open cases name
each, and any absence with its deputy), its fields, and a submitted form read back into what
api/handover.py takes, or the errors to show beside each field.

The person and the colleague are chosen from lists, so a name that is not on them (a stale
form, a hand-made request) is an error here, said beside its field; the API itself still
lets a manager name someone with no profile yet (core/profiles.py: team_member_problem).
"""

from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from sqlmodel import Session

from api.handover import Reassignment, same_person
from api.workspace.form_input import control_errors, field_errors, read_form
from api.workspace.forms import FormField, Values, humanise
from core.profiles import list_profiles
from models.case import TEAM_ROLES
from models.enums import TeamRole
from models.profiles import Absence
from readmodel.work import open_cases_by_person


@dataclass(frozen=True)
class Person:
    """Someone of the area whose cases can be handed over, or who can take them on."""

    user_id: str
    display_name: str | None  # None: not on the area's staff (no profile, or another area's)
    role: str | None
    active: bool
    open_cases: int
    absence: Absence | None  # under way or to come
    absent_now: bool

    @property
    def colleague(self) -> bool:
        """Can take cases on: an active profile of a team role."""
        return self.active and self.role in TEAM_ROLES

    def label(self) -> str:
        name = f"{self.display_name} ({self.user_id})" if self.display_name \
            else f"{self.user_id} (not on the area's staff)"
        away = f"absent until {self.absence.absent_to:%d %b %Y}" \
            if self.absence and self.absent_now else ""
        return " · ".join(part for part in (name, humanise(self.role or ""), away) if part)


def area_people(session: Session, area: str, today: date) -> list[Person]:
    """The area's staff of the team roles and everyone its open cases name, by user id."""
    counts = open_cases_by_person(session, area)
    people = {}
    for p in list_profiles(session, area):
        if p.role.value not in TEAM_ROLES and not counts.get(p.user_id):
            continue  # a manager or an admin: no case names them
        absence = p.absence if p.absence and p.absence.absent_to >= today else None
        people[p.user_id] = Person(p.user_id, p.display_name, p.role.value, p.active,
                                   counts.get(p.user_id, 0), absence,
                                   bool(absence and absence.covers(today)))
    for user_id, count in counts.items():
        people.setdefault(user_id, Person(user_id, None, None, True, count, None, False))
    return [people[k] for k in sorted(people)]


def handover_fields(people: list[Person], defaults: dict[str, str]) -> list[FormField]:
    return [
        FormField(path="from_user", label="Whose cases", widget="select", required=True,
                  default=defaults.get("from_user") or None,
                  hint="Everyone named on an open case of your area, and your area's staff.",
                  options=[(p.user_id, f"{p.label()} · {p.open_cases} open case"
                                       f"{'' if p.open_cases == 1 else 's'}") for p in people]),
        FormField(path="to_user", label="Colleague who takes them on", widget="select",
                  required=True, default=defaults.get("to_user") or None,
                  hint="Someone of the same role: a case refuses anyone who cannot hold its "
                       "role, and the next page says which and why.",
                  options=[(p.user_id, p.label()) for p in people if p.colleague]),
        FormField(path="roles", label="Only these roles", widget="checkboxes",
                  hint="Leave them all unticked to hand over every role the cases name them for.",
                  options=[(r.value, humanise(r.value)) for r in TeamRole]),
        FormField(path="reason", label="Reason", widget="textarea", required=True,
                  hint="Recorded in each case's history, for example: on leave until 5 January. "
                       "No complainant's details."),
    ]


@dataclass(frozen=True)
class Handover:
    from_user: str
    body: Reassignment


def read_handover(fields: list[FormField], values: Values,
                  people: list[Person]) -> tuple[Handover | None, dict[str, str], list[str]]:
    """What the form asks for, checked as POST /people/{user_id}/reassign checks its body and
    against the lists the form offered; or an error for each field that is wrong."""
    data, errors = read_form(fields, values)
    errors |= control_errors(data)
    from_user, to_user = str(data.get("from_user", "")), str(data.get("to_user", ""))
    if not from_user:
        errors.setdefault("from_user", "Select the person whose cases are handed over")
    elif from_user not in {p.user_id for p in people}:
        errors.setdefault("from_user", f"{from_user} is not named on an open case of your area "
                                       "nor on its staff: select someone from the list")
    if not to_user:
        errors.setdefault("to_user", "Select the colleague who takes the cases on")
    elif to_user not in {p.user_id for p in people if p.colleague}:
        errors.setdefault("to_user", f"{to_user} is not one of your area's active staff: select "
                                     "a colleague from the list")
    elif (why := same_person(from_user, to_user)) is not None:
        errors.setdefault("to_user", why)
    if not str(data.get("reason", "")).strip():
        errors.setdefault("reason", "Enter the reason for the handover")
    if errors:
        return None, errors, []
    try:
        body = Reassignment.model_validate({"to_user": to_user, "reason": data["reason"].strip(),
                                            "roles": data.get("roles") or None})
    except ValidationError as err:
        placed, general = field_errors(err, fields)
        return None, placed, general
    return Handover(from_user, body), {}, []
