"""Sign-in throttling (api/login.py): per account and per client address, shared through the
database, the same for accounts that exist and those that do not, and audited.

Each test runs the app with limits of its own, from client addresses of its own, against the
suite's database, Temporal and worker.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client

import api.login
from api.main import create_app
from core.security import hash_password
from core.settings import Settings
from models.audit import AuditRow
from models.tables import LoginThrottleRow, UserRow

AREA = "login-area"
PASSWORD = "correct horse battery staple"


def new_address() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2]}"


def new_user(engine: Engine, *, active: bool = True) -> str:
    username = f"login-{uuid.uuid4().hex[:8]}"
    with Session(engine) as session:
        session.add(UserRow(username=username, role="manager", area=AREA, active=active,
                            password_hash=hash_password(PASSWORD)))
        session.commit()
    return username


@pytest.fixture
def make_app(settings: Settings, client: Client, engine: Engine) -> Callable[..., FastAPI]:
    def made(**limits: Any) -> FastAPI:
        return create_app(settings.model_copy(update={
            "login_attempts_per_address": 1_000_000, **limits}), client, engine)
    return made


@asynccontextmanager
async def from_address(app: FastAPI, address: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address or new_address(), 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://cases.test") as http:
        yield http


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/auth/token", data={"username": username, "password": password})


def assert_throttled(response: httpx.Response, whose: str, window: int) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert response.json()["detail"] == {"rule": "THROTTLED", "message": (
        f"Too many sign-in attempts {whose}; try again in {retry_after} seconds.")}


async def test_wrong_passwords_for_one_account_are_throttled(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=5, login_window_seconds=300)
    username = new_user(engine)
    async with from_address(app) as http:
        started = time.monotonic()
        answers = [await login(http, username, f"guess-{i}") for i in range(20)]
        took = time.monotonic() - started
        print(f"\n20 wrong passwords in {took:.2f} s: "
              f"{[a.status_code for a in answers].count(401)} answered 401, the rest 429")
        assert [a.status_code for a in answers[:5]] == [401] * 5
        for answer in answers[5:]:
            assert_throttled(answer, "for this account", 300)
        # The right password too, until the window ends: it could be the 21st guess.
        assert_throttled(await login(http, username, PASSWORD), "for this account", 300)
        # Another account, from the same address, is not held up.
        assert (await login(http, new_user(engine), PASSWORD)).status_code == 200


async def test_an_account_that_does_not_exist_is_throttled_the_same(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=3)
    async with from_address(app) as http:
        existing, missing = new_user(engine), f"nobody-{uuid.uuid4().hex[:8]}"
        for name in (existing, missing):
            answers = [await login(http, name, "wrong") for _ in range(5)]
            assert [a.status_code for a in answers] == [401, 401, 401, 429, 429], name
            assert answers[0].json() == {"detail": {"rule": "AUTH",
                                                    "message": "Wrong username or password."}}
            assert_throttled(answers[-1], "for this account", 300)


async def test_a_burst_of_simultaneous_guesses_gets_no_more_than_the_limit_checked(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=5)
    username = new_user(engine)
    async with from_address(app) as http:
        answers = await asyncio.gather(*(login(http, username, f"guess-{i}") for i in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 15, statuses


async def test_one_address_trying_many_accounts_is_throttled(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=5, login_attempts_per_address=4)
    address = new_address()
    async with from_address(app, address) as http:
        answers = [await login(http, new_user(engine), "wrong") for _ in range(6)]
        assert [a.status_code for a in answers[:4]] == [401] * 4
        for answer in answers[4:]:
            assert_throttled(answer, "from this address", 300)
    async with from_address(app) as elsewhere:  # another address is not
        assert (await login(elsewhere, new_user(engine), PASSWORD)).status_code == 200


async def test_a_successful_sign_in_clears_the_account_and_costs_the_address_nothing(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=3, login_attempts_per_address=3)
    username = new_user(engine)
    async with from_address(app) as http:
        # Many users behind one address (a station's NAT) signing in do not fill its count.
        for _ in range(6):
            assert (await login(http, new_user(engine), PASSWORD)).status_code == 200
        assert [(await login(http, username, "typo")).status_code for _ in range(2)] == [401, 401]
        assert (await login(http, username, PASSWORD)).status_code == 200
        # The account starts afresh; the address still holds the two typos.
        assert (await login(http, username, "typo")).status_code == 401
        assert_throttled(await login(http, username, "typo"), "from this address", 300)


async def test_the_throttle_lifts_when_its_window_ends(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=2, login_window_seconds=1)
    username = new_user(engine)
    async with from_address(app) as http:
        assert [(await login(http, username, "wrong")).status_code for _ in range(2)] == [401, 401]
        throttled = await login(http, username, PASSWORD)
        assert_throttled(throttled, "for this account", 1)
        await asyncio.sleep(1.1)
        assert (await login(http, username, PASSWORD)).status_code == 200
    with Session(engine) as session:  # a successful sign-in clears the account's count
        assert session.get(LoginThrottleRow, api.login.throttle_key("account", username)) is None


async def test_the_throttle_is_shared_by_every_api_process(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    first, second = make_app(login_attempts_per_account=4), make_app(login_attempts_per_account=4)
    username, address = new_user(engine), new_address()
    async with from_address(first, address) as one, from_address(second, address) as two:
        answers = [await login(http, username, "wrong") for http in (one, two) * 3]
    assert [a.status_code for a in answers] == [401] * 4 + [429] * 2


async def test_the_password_is_hashed_whether_or_not_the_account_exists(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = api.login.verify_password

    def counted(password: str, stored: str) -> bool:
        checked.append(stored.split("$")[0])
        return real(password, stored)

    monkeypatch.setattr(api.login, "verify_password", counted)
    app = make_app(login_attempts_per_account=5)
    cases = {"unknown": f"nobody-{uuid.uuid4().hex[:8]}", "deactivated": new_user(engine, active=False),
             "wrong password": new_user(engine), "NUL": "nul\x00user"}
    timings = {}
    async with from_address(app) as http:
        for what, name in cases.items():
            checked.clear()
            started = time.perf_counter()
            response = await login(http, name, "not-the-password" if what == "wrong password" else PASSWORD)
            timings[what] = time.perf_counter() - started
            assert response.status_code == 401, (what, response.text)
            assert response.json()["detail"] == {"rule": "AUTH", "message": "Wrong username or password."}
            assert checked == ["scrypt"], (what, checked)  # the same scrypt work every time
    print("\nsign-in answer times: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))


def audit_entry(engine: Engine, response: httpx.Response) -> AuditRow:
    with Session(engine) as session:
        [row] = session.exec(select(AuditRow).where(
            AuditRow.request_id == response.headers["X-Request-ID"])).all()
    return row


async def test_sign_ins_and_throttled_attempts_are_audited(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=1)
    username, missing = new_user(engine), f"nobody-{uuid.uuid4().hex[:8]}"
    async with from_address(app) as http:
        signed_in = await login(http, username, PASSWORD)
        refused = await login(http, username, "wrong")
        throttled = await login(http, username, "wrong")
        unknown = await login(http, missing, "wrong")
        unknown_throttled = await login(http, missing, "wrong")
    assert [r.status_code for r in (signed_in, refused, throttled, unknown, unknown_throttled)] == \
        [200, 401, 429, 401, 429]
    seen = {name: audit_entry(engine, response) for name, response in (
        ("signed in", signed_in), ("refused", refused), ("throttled", throttled),
        ("unknown", unknown), ("unknown throttled", unknown_throttled))}
    assert {k: (r.user_id, r.role, r.area, r.action, r.status) for k, r in seen.items()} == {
        "signed in": (username, "manager", AREA, "login", 200),
        "refused": (username, None, None, "login_refused", 401),
        "throttled": (username, None, None, "login_throttled", 429),
        # A name no account has is not recorded: it may be a password typed in the wrong box.
        "unknown": (None, None, None, "login_refused", 401),
        "unknown throttled": (None, None, None, "login_throttled", 429),
    }
    assert all((r.method, r.path) == ("POST", "/auth/token") for r in seen.values())


async def test_the_dashboard_sign_in_is_throttled_with_the_api_login(
        worker: None, make_app: Callable[..., FastAPI], engine: Engine) -> None:
    app = make_app(login_attempts_per_account=2)
    username = new_user(engine)
    async with from_address(app) as http:
        async def dashboard(password: str) -> httpx.Response:
            return await http.post("/dashboard/login",
                                   data={"username": username, "password": password})

        assert [(await dashboard("wrong")).status_code for _ in range(2)] == [401, 401]
        page = await dashboard(PASSWORD)
        assert page.status_code == 429 and 1 <= int(page.headers["Retry-After"]) <= 300
        assert "Too many sign-in attempts for this account" in page.text
        assert_throttled(await login(http, username, PASSWORD), "for this account", 300)
