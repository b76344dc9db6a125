"""Staff profiles: whom a staff message is routed to (pure), the rules for an absence's deputy,
the admin command, and the /me and /people API."""

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from activities.notify import NotificationActivities, OutboxOnly
from core import admin
from core.profiles import ContactClaims, deputy_problem, get_profile, save_profile, set_absence
from core.settings import get_settings
from core.staff_routing import ROLE_MAILBOX, StaffRoute, deputy_note, route_staff
from models.enums import Role
from models.notifications import Notification
from models.profiles import Absence, ProfileFields, StaffProfile
from tests.api_steps import Handler, new_reference

MONDAY = date(2026, 12, 7)
AREA = "profiles-a"
OTHER_AREA = "profiles-b"
Auth = Callable[..., dict[str, str]]


def person(user_id: str = "pc-1", *, role: Role = Role.OFFICER_IN_CASE, area: str = "north",
           email: str | None = "pc1@force.example", active: bool = True,
           away: tuple[date, date, str] | None = None) -> StaffProfile:
    absence = Absence(absent_from=away[0], absent_to=away[1], deputy=away[2]) if away else None
    return StaffProfile(user_id=user_id, display_name=f"PC {user_id}", email=email, role=role,
                        area=area, active=active, absence=absence)


DEPUTY = person("pc-2", email="pc2@force.example")
AWAY_THIS_WEEK = (MONDAY, MONDAY + timedelta(days=4), "pc-2")


# Routing: the pure decision


def test_a_named_person_who_is_at_work_gets_their_own_message() -> None:
    assert route_staff(person(), None, MONDAY) == StaffRoute("owner", "pc-1", "pc1@force.example")
    # Moved to another role since the case named them: the role's work goes to its mailbox.
    assert route_staff(person(), None, MONDAY, Role.OFFICER_IN_CASE).routed_as == "owner"
    assert route_staff(person(), None, MONDAY, Role.POLICE_SPOC) == ROLE_MAILBOX


@pytest.mark.parametrize("day", [MONDAY, MONDAY + timedelta(days=4)], ids=["first", "last"])
def test_an_absent_persons_message_goes_to_their_deputy_on_every_day_of_the_absence(
        day: date) -> None:
    assert route_staff(person(away=AWAY_THIS_WEEK), DEPUTY, day) == \
        StaffRoute("deputy", "pc-2", "pc2@force.example")


@pytest.mark.parametrize("day", [MONDAY - timedelta(days=1), MONDAY + timedelta(days=5)],
                         ids=["before", "after"])
def test_outside_the_absence_the_message_goes_to_the_person_again(day: date) -> None:
    assert route_staff(person(away=AWAY_THIS_WEEK), DEPUTY, day).routed_as == "owner"


@pytest.mark.parametrize(("owner", "deputy"), [
    (None, None),
    (person(email=None), None),
    (person(active=False), None),
    (person(away=AWAY_THIS_WEEK), None),
    (person(away=AWAY_THIS_WEEK), person("pc-2", active=False)),
    (person(away=AWAY_THIS_WEEK), person("pc-2", email=None)),
    (person(away=AWAY_THIS_WEEK), person("pc-2", area="south")),
    (person(away=AWAY_THIS_WEEK), person("pc-2", role=Role.POLICE_SPOC)),
    (person(away=AWAY_THIS_WEEK), person("pc-2", away=(MONDAY, MONDAY, "pc-1"))),
    (person(away=AWAY_THIS_WEEK), person("pc-3")),
], ids=["no profile", "no email", "inactive", "away without deputy", "deputy inactive",
        "deputy without email", "deputy of another area", "deputy of another role",
        "deputy away too", "not the deputy named"])
def test_a_person_who_cannot_be_reached_leaves_the_message_to_the_role_mailbox(
        owner: StaffProfile | None, deputy: StaffProfile | None) -> None:
    assert route_staff(owner, deputy, MONDAY) == ROLE_MAILBOX


def test_the_deputy_is_told_for_whom_and_until_when() -> None:
    note = deputy_note(person(away=AWAY_THIS_WEEK))
    assert note == "Sent to you as deputy for PC pc-1 (pc-1), who is away until Fri 11 Dec 2026."


# The rules of an absence


def test_an_absence_ends_on_or_after_it_starts() -> None:
    Absence(absent_from=MONDAY, absent_to=MONDAY, deputy="pc-2")  # one day is an absence
    with pytest.raises(ValidationError) as refused:
        Absence(absent_from=MONDAY, absent_to=MONDAY - timedelta(days=1), deputy="pc-2")
    assert [e["loc"] for e in refused.value.errors()] == [("absent_to",)]


@pytest.mark.parametrize(("deputy", "says"), [
    (None, "no profile of that user in area north"),
    (person("pc-2", area="south"), "no profile of that user in area north"),
    (person("pc-1"), "own deputy"),
    (person("pc-2", active=False), "not active"),
    (person("pc-2", role=Role.PROSECUTOR), "same role (officer_in_case); they are prosecutor"),
])
def test_a_deputy_is_another_active_colleague_of_the_same_role_and_area(
        deputy: StaffProfile | None, says: str) -> None:
    problem = deputy_problem(person(), deputy)
    assert problem is not None and says in problem
    assert deputy_problem(person(), DEPUTY) is None


def test_a_profile_never_holds_the_services_own_role() -> None:
    with pytest.raises(ValidationError, match="system role"):
        ProfileFields(display_name="x", role=Role.SYSTEM, area="north")


def test_oidc_contact_claims_keep_only_well_formed_values() -> None:
    assert ContactClaims.from_claims({"name": " Ann Lee ", "email": "ann@force.example",
                                      "phone_number": "+44 7700 900123"}) == \
        ContactClaims("Ann Lee", "ann@force.example", "+44 7700 900123")
    assert ContactClaims.from_claims({"name": "", "email": "not an address",
                                      "phone_number": 447700900123}) == ContactClaims()


# The admin command


def new_user() -> str:
    return f"staff-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point core.admin (which reads the settings) at the test database."""
    monkeypatch.setenv("CASES_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_create_user_gives_the_user_a_profile(engine: Engine, admin_db: None) -> None:
    user = new_user()
    assert admin.main(["create-user", "--username", user, "--role", "prosecutor", "--area",
                       "north", "--password", "pw", "--display-name", "Ann Lee",
                       "--email", "ann.lee@cps.example", "--phone", "020 7946 0000"]) == 0
    with Session(engine) as session:
        profile = get_profile(session, user)
    assert profile is not None
    assert (profile.display_name, profile.email, profile.phone, profile.role, profile.area,
            profile.active) == ("Ann Lee", "ann.lee@cps.example", "020 7946 0000",
                                Role.PROSECUTOR, "north", True)
    # Saved again without contact details: those stored are kept.
    assert admin.main(["create-user", "--username", user, "--role", "prosecutor", "--area",
                       "north", "--password", "pw2"]) == 0
    with Session(engine) as session:
        again = get_profile(session, user)
    assert again is not None and again.email == "ann.lee@cps.example"


def test_create_user_refuses_a_malformed_email_naming_it(
        engine: Engine, admin_db: None, capsys: pytest.CaptureFixture[str]) -> None:
    user = new_user()
    assert admin.main(["create-user", "--username", user, "--role", "prosecutor", "--area",
                       "north", "--password", "pw", "--email", "ann at cps"]) == 2
    assert "refused: email:" in capsys.readouterr().err
    with Session(engine) as session:
        assert get_profile(session, user) is None


def test_set_profile_and_set_absence_with_clear_refusals(
        engine: Engine, admin_db: None, capsys: pytest.CaptureFixture[str]) -> None:
    user, deputy, other_role = new_user(), new_user(), new_user()
    assert admin.main(["set-profile", "--user", user]) == 2
    assert "give --role and --area" in capsys.readouterr().err
    for who, role in ((user, "witness_care"), (deputy, "witness_care"), (other_role, "manager")):
        assert admin.main(["set-profile", "--user", who, "--role", role, "--area", "north",
                           "--email", f"{who}@force.example"]) == 0
    assert "created" in capsys.readouterr().out

    def absence(*options: str) -> tuple[int, str]:
        code = admin.main(["set-absence", "--user", user, *options])
        return code, capsys.readouterr().err

    week = ["--from", "2026-12-07", "--to", "2026-12-11"]
    assert absence(*week, "--deputy", "nobody-" + user) == \
        (2, "refused: --deputy: there is no profile of that user in area north\n")
    assert absence(*week, "--deputy", user) == \
        (2, "refused: --deputy: a user cannot be their own deputy\n")
    assert "same role (witness_care); they are manager" in absence(*week, "--deputy", other_role)[1]
    code, err = absence("--from", "2026-12-11", "--to", "2026-12-07", "--deputy", deputy)
    assert code == 2 and err.startswith("refused: --to: ") and "on or after" in err
    assert admin.main(["set-profile", "--user", deputy, "--no-active"]) == 0
    assert absence(*week, "--deputy", deputy) == (2, "refused: --deputy: the deputy is not active\n")
    assert admin.main(["set-profile", "--user", deputy, "--active"]) == 0

    assert absence(*week, "--deputy", deputy) == (0, "")
    with Session(engine) as session:
        stored = get_profile(session, user)
    assert stored is not None and stored.absence == Absence(
        absent_from=date(2026, 12, 7), absent_to=date(2026, 12, 11), deputy=deputy)
    assert absence("--clear") == (0, "")
    with Session(engine) as session:
        cleared = get_profile(session, user)
    assert cleared is not None and cleared.absence is None


# The API


def profile_body(role: str = "officer_in_case", area: str = AREA, **fields: Any) -> dict[str, Any]:
    return {"display_name": "PC Example", "email": "pc.example@force.example",
            "phone": "01632 960000", "role": role, "area": area} | fields


async def put_profile(api: httpx.AsyncClient, auth: Auth, user: str,
                      **fields: Any) -> httpx.Response:
    return await api.put(f"/people/{user}", json=profile_body(**fields),
                         headers=auth("admin", AREA))


async def test_an_admin_creates_then_updates_a_profile_of_their_area(
        api: httpx.AsyncClient, auth: Auth) -> None:
    user = new_user()
    created = await put_profile(api, auth, user)
    assert created.status_code == 201, created.text
    assert created.json() | {"user_id": user} == profile_body() | {
        "user_id": user, "active": True, "absence": None}
    updated = await put_profile(api, auth, user, email="new@force.example", active=False)
    assert updated.status_code == 200 and updated.json()["email"] == "new@force.example"
    assert updated.json()["active"] is False
    read = await api.get(f"/people/{user}", headers=auth("witness_care", AREA))
    assert read.status_code == 200 and read.json() == updated.json()


async def test_only_an_admin_of_the_area_sets_a_profile(api: httpx.AsyncClient, auth: Auth) -> None:
    user = new_user()
    for role in Role:
        if role not in (Role.ADMIN, Role.SYSTEM):
            refused = await api.put(f"/people/{user}", json=profile_body(),
                                    headers=auth(role, AREA))
            assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "ACCESS"
    elsewhere = await api.put(f"/people/{user}", json=profile_body(area=OTHER_AREA),
                              headers=auth("admin", AREA))
    assert elsewhere.status_code == 403, elsewhere.text
    assert (await put_profile(api, auth, user)).status_code == 201
    # Another area's admin cannot take the profile over, nor learn that it exists.
    taken = await api.put(f"/people/{user}", json=profile_body(area=OTHER_AREA),
                          headers=auth("admin", OTHER_AREA))
    assert taken.status_code == 404
    assert taken.json()["detail"] == {"rule": "NOT_FOUND", "message": f"No profile {user} in your area."}


async def test_bad_profile_input_is_a_422_naming_the_field(api: httpx.AsyncClient,
                                                           auth: Auth) -> None:
    for field, value in (("email", "not-an-address"), ("phone", "call me"), ("role", "system"),
                         ("display_name", "")):
        response = await put_profile(api, auth, new_user(), **{field: value})
        assert response.status_code == 422, (field, response.text)
        assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]


async def test_me_and_people_show_only_your_area(api: httpx.AsyncClient, auth: Auth) -> None:
    officer, prosecutor = new_user(), new_user()
    await put_profile(api, auth, officer)
    await put_profile(api, auth, prosecutor, role="prosecutor")
    me = await api.get("/me", headers=auth("officer_in_case", AREA, officer))
    assert me.status_code == 200 and me.json()["user_id"] == officer
    nobody = await api.get("/me", headers=auth("officer_in_case", AREA, new_user()))
    assert nobody.status_code == 404 and nobody.json()["detail"]["rule"] == "NOT_FOUND"

    listed = await api.get("/people", headers=auth("manager", AREA))
    assert {officer, prosecutor} <= {p["user_id"] for p in listed.json()}
    assert all(p["area"] == AREA for p in listed.json())
    prosecutors = await api.get("/people", params={"role": "prosecutor"}, headers=auth("admin", AREA))
    assert prosecutor in {p["user_id"] for p in prosecutors.json()}
    assert {p["role"] for p in prosecutors.json()} == {"prosecutor"}
    assert (await api.get("/people", headers=auth("officer_in_case", AREA))).status_code == 403
    elsewhere = await api.get("/people", headers=auth("manager", OTHER_AREA))
    assert officer not in elsewhere.text
    other = await api.get(f"/people/{officer}", headers=auth("manager", OTHER_AREA))
    assert other.status_code == 404 and "pc.example@force.example" not in other.text


async def test_an_absence_is_set_by_the_user_or_a_manager_or_admin_and_cleared(
        api: httpx.AsyncClient, auth: Auth) -> None:
    user, deputy, colleague = new_user(), new_user(), new_user()
    for who in (user, deputy, colleague):
        await put_profile(api, auth, who)
    week = {"absent_from": "2026-12-07", "absent_to": "2026-12-11", "deputy": deputy}
    url = f"/people/{user}/absence"
    refused = await api.put(url, json=week, headers=auth("officer_in_case", AREA, colleague))
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "ACCESS"
    hidden = await api.put(url, json=week, headers=auth("manager", OTHER_AREA))
    assert hidden.status_code == 404
    for headers in (auth("officer_in_case", AREA, user), auth("manager", AREA), auth("admin", AREA)):
        response = await api.put(url, json=week, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["absence"] == week
    assert (await api.get("/me", headers=auth("officer_in_case", AREA, user))).json()[
        "absence"] == week
    cleared = await api.delete(url, headers=auth("officer_in_case", AREA, user))
    assert cleared.status_code == 200 and cleared.json()["absence"] is None


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"absent_to": "2026-12-01"}, "absent_to", "on or after absent_from"),
    ({"deputy": "nobody-at-all"}, "deputy", "no profile of that user"),
    ({"deputy": "SELF"}, "deputy", "own deputy"),
])
async def test_a_bad_absence_is_a_422_naming_the_field(
        change: dict[str, str], field: str, says: str, api: httpx.AsyncClient,
        auth: Auth) -> None:
    user, deputy = new_user(), new_user()
    for who in (user, deputy):
        await put_profile(api, auth, who)
    body = {"absent_from": "2026-12-07", "absent_to": "2026-12-11", "deputy": deputy} | change
    if body["deputy"] == "SELF":
        body["deputy"] = user
    response = await api.put(f"/people/{user}/absence", json=body, headers=auth("manager", AREA))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field] and says in error["msg"]


def test_save_profile_keeps_the_absence(engine: Engine) -> None:
    user = new_user()
    fields = ProfileFields(display_name="A", role=Role.MANAGER, area="north")
    with Session(engine) as session:
        save_profile(session, user, fields)
        deputy = new_user()
        save_profile(session, deputy, fields)
        set_absence(session, user, Absence(absent_from=MONDAY, absent_to=MONDAY, deputy=deputy))
        profile, created = save_profile(session, user, fields.model_copy(update={"email": "a@b.uk"}))
    assert not created and profile.absence is not None and profile.email == "a@b.uk"


async def test_the_case_outbox_shows_whom_each_staff_message_went_to(
        api: httpx.AsyncClient, auth: Auth, engine: Engine) -> None:
    handler = Handler(api, auth, new_reference("PROF"), area=AREA)
    assert (await handler.open()).status_code == 201
    officer = new_user()
    await put_profile(api, auth, officer)
    message = Notification(idempotency_key=f"K-{uuid.uuid4().hex}", reference=handler.reference,
                           area=AREA, audience=Role.OFFICER_IN_CASE, recipient_user=officer,
                           subject="Due soon", body="Agree a SPOC")
    NotificationActivities(engine, OutboxOnly(), "force.example").send(message)
    sent = await api.get(f"/cases/{handler.reference}/notifications",
                         headers=auth("manager", AREA))
    [row] = [r for r in sent.json() if r["subject"] == "Due soon"]
    assert (row["recipient"], row["recipient_user"], row["routed_as"]) == \
        ("pc.example@force.example", officer, "owner")


async def test_a_user_id_with_a_control_character_is_refused_not_stored(
        api: httpx.AsyncClient, auth: Auth) -> None:
    response = await api.put("/people/nul%00user", json=profile_body(), headers=auth("admin", AREA))
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["path", "user_id"]]
    unknown = await api.get("/people/nul%00user", headers=auth("admin", AREA))
    assert unknown.status_code == 404
