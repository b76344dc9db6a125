"""Staff profiles: your own, your area's people, and absences with their deputies.

A profile holds a colleague's contact details, so only staff of its area read it: another
area's person answers as an unknown one (404), as another area's case does.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from api import audit
from api.auth import CurrentUser
from api.deps import SessionDep
from api.errors import refusal_http
from api.responses import AUTHENTICATED, FORBIDDEN, MALFORMED, WITH_BODY, responses
from api.text import CONTROL_CHARACTERS
from api.text import MESSAGE as CONTROL_CHARACTER_MESSAGE
from core.profiles import (
    ProfileRefused,
    clear_absence,
    get_profile,
    list_profiles,
    save_profile,
    set_absence,
)
from models.case import Actor
from models.enums import Role
from models.profiles import USER_ID_MAX, Absence, ProfileFields, StaffProfile

router = APIRouter(tags=["people"], responses=AUTHENTICATED)

# Who sees the whole list of an area's staff: those who run the area.
LISTS_PEOPLE = frozenset({Role.MANAGER, Role.ADMIN})
# Who records anyone's absence (besides the user themselves).
SETS_ABSENCES = frozenset({Role.MANAGER, Role.ADMIN})
UserId = Annotated[str, Path(min_length=1, max_length=USER_ID_MAX)]
ONE_PERSON = responses(s404="No such person in your area (or another area's).")


def _unknown(user_id: str) -> HTTPException:
    return refusal_http("NOT_FOUND", f"No profile {user_id} in your area.")


def _forbidden(message: str) -> HTTPException:
    return refusal_http("ACCESS", message)


def _invalid(field: str, message: str) -> HTTPException:
    # The shape of a malformed body (a list of fields), so a client handles both alike.
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": message,
                                       "type": "value_error"}])


def _colleague(session: SessionDep, user_id: str, actor: Actor) -> StaffProfile:
    profile = get_profile(session, user_id)
    if profile is None or profile.area != actor.area:
        raise _unknown(user_id)
    return profile


@router.get("/me", response_model=StaffProfile,
            responses=responses(s404="You have no profile yet (an administrator makes it)."))
def my_profile(actor: CurrentUser, session: SessionDep) -> StaffProfile:
    """Your own profile: contact details, and any absence with your deputy."""
    profile = get_profile(session, actor.user_id)
    if profile is None:
        raise refusal_http("NOT_FOUND", "You have no profile yet; an administrator of your "
                                        "area makes it.")
    return profile


@router.get("/people", response_model=list[StaffProfile],
            responses=responses(FORBIDDEN, MALFORMED))
def people(actor: CurrentUser, session: SessionDep,
           role: Annotated[Role | None, Query(description="Only people of this role.")] = None,
           ) -> list[StaffProfile]:
    """The staff of your area, by user id (managers and admins)."""
    if actor.role not in LISTS_PEOPLE:
        raise _forbidden("The list of an area's staff is for its managers and admins.")
    return list_profiles(session, actor.area, role)


@router.get("/people/{user_id}", response_model=StaffProfile,
            responses=responses(ONE_PERSON, MALFORMED))
def person(user_id: UserId, actor: CurrentUser, session: SessionDep) -> StaffProfile:
    """A colleague of your area: contact details and absence."""
    return _colleague(session, user_id, actor)


@router.put("/people/{user_id}", response_model=StaffProfile, responses={
    201: {"model": StaffProfile, "description": "The profile was created."},
    **responses(ONE_PERSON, FORBIDDEN, WITH_BODY, MALFORMED,
                s404="The user's profile is another area's.")})
def put_person(user_id: UserId, fields: ProfileFields, actor: CurrentUser,
               session: SessionDep, request: Request, response: Response) -> StaffProfile:
    """Create or update a profile of your area (admins); an absence stays as it was."""
    if actor.role is not Role.ADMIN:
        raise _forbidden("Profiles are set by an administrator of the area.")
    if CONTROL_CHARACTERS.search(user_id):
        # No user id holds one (PostgreSQL cannot even store a NUL): refused as a body's is.
        raise HTTPException(422, detail=[{"loc": ["path", "user_id"], "type": "control_character",
                                           "msg": CONTROL_CHARACTER_MESSAGE}])
    existing = get_profile(session, user_id)
    if existing is not None and existing.area != actor.area:
        raise _unknown(user_id)
    if fields.area != actor.area:
        raise _forbidden("An administrator sets the profiles of their own area only.")
    audit.note(request, action="set_profile")
    profile, created = save_profile(session, user_id, fields)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return profile


def _may_set_absence(actor: Actor, user_id: str) -> None:
    if actor.role not in SETS_ABSENCES and actor.user_id != user_id:
        raise _forbidden("An absence is recorded by the user, or a manager or admin of the area.")


@router.put("/people/{user_id}/absence", response_model=StaffProfile,
            responses=responses(ONE_PERSON, FORBIDDEN, WITH_BODY, MALFORMED))
def put_absence(user_id: UserId, absence: Absence, actor: CurrentUser, session: SessionDep,
                request: Request) -> StaffProfile:
    """Record when the user is away (both days included) and the colleague of their role
    who gets their messages meanwhile (the user, or a manager or admin of the area)."""
    _colleague(session, user_id, actor)
    _may_set_absence(actor, user_id)
    audit.note(request, action="set_absence")
    try:
        return set_absence(session, user_id, absence)
    except ProfileRefused as err:
        raise _invalid(err.field, err.message) from err


@router.delete("/people/{user_id}/absence", response_model=StaffProfile,
               responses=responses(ONE_PERSON, FORBIDDEN, MALFORMED))
def delete_absence(user_id: UserId, actor: CurrentUser, session: SessionDep,
                   request: Request) -> StaffProfile:
    """The user is back: their messages go to them again."""
    _colleague(session, user_id, actor)
    _may_set_absence(actor, user_id)
    audit.note(request, action="clear_absence")
    return clear_absence(session, user_id)
