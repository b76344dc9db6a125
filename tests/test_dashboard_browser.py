"""The managers' dashboard in a real browser: Debian's headless Chromium driven by Playwright,
against the API served by uvicorn on a free port, with the suite's Temporal and database.

One stuck case of each kind is made by real workflows: one referred through the API in an area
whose referral service level is 0 days (over service level), one driven past its due date on
the time-skipping server (overdue deadline), and one whose reminder cannot be delivered because
its worker's SMTP relay is unreachable (failing activity). Screenshots go to test-artifacts/.
"""

import json
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session

from api.examples import ACTION_EXAMPLES
from api.main import create_app
from core.security import hash_password
from models.tables import CaseRow, UserRow
from tests.api_steps import new_case_body, new_reference
from tests.conftest import eventually
from tests.isolated_skipping import isolated_skipping
from tests.timer_steps import TimedCase
from worker import build_worker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
AREA = f"dash-{uuid.uuid4().hex[:6]}"
OTHER_AREA = f"{AREA}-x"
PASSWORD = "correct horse battery staple"

if shutil.which(CHROMIUM) is None:  # `make test` installs it (apt-get) where it can
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium and could not be "
                "installed here (run `apt-get install -y chromium` as root)",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is a dev dependency")
pytestmark = pytest.mark.asyncio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(client, settings, engine, worker) -> Iterator[str]:
    """The API with the dashboard, under uvicorn in a thread; the area's referrals may wait 0
    days, so a referred case is over its service level at once."""
    tuned = settings.model_copy(update={"service_level_overrides": {AREA: {"referral": 0}}})
    app = create_app(tuned, client, engine)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if uv.started:
            break
        threading.Event().wait(0.05)
    assert uv.started, "uvicorn did not start"
    with Session(engine) as session:
        for name, area in (("manager-dash", AREA), ("manager-elsewhere", OTHER_AREA)):
            session.merge(UserRow(username=name, password_hash=hash_password(PASSWORD),
                                  role="manager", area=area))
        session.commit()
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def stuck_cases(api, auth, engine, settings) -> AsyncIterator[dict[str, str]]:
    """One stuck case of each kind, made by real workflows; their references by reason."""
    async with isolated_skipping(settings, engine) as (skipping_env, skipping_worker):
        yield await _make_stuck_cases(api, auth, engine, settings, skipping_env, skipping_worker)


async def _make_stuck_cases(api: Any, auth: Any, engine: Any, settings: Any, skipping_env: Any,
                            skipping_worker: str) -> dict[str, str]:
    # Failing activity: the contact-details reminder cannot be delivered.
    broken = settings.model_copy(update={"notifier": "smtp", "smtp_port": free_port()})
    queue = f"dash-failing-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(skipping_env.client, broken, engine, executor, task_queue=queue):
            failing = await TimedCase.start(skipping_env, queue, engine, police_area=AREA,
                                            cps_area=AREA)
            deadline = await failing.deadline("contact_details")
            assert deadline is not None
            await failing.sleep_past(deadline.remind_at + timedelta(minutes=10))
            await _projected_failing(engine, failing.reference)
            # Its projection stays; the workflow goes, so nothing of it outlives this worker.
            await failing.handle.terminate("test over")
    # Overdue deadline: driven past its due date with a working notifier.
    overdue = await TimedCase.start(skipping_env, skipping_worker, engine, police_area=AREA,
                                    cps_area=AREA)
    deadline = await overdue.deadline("contact_details")
    assert deadline is not None
    await overdue.sleep_past(deadline.due_at)
    await overdue.settled()
    # Over service level: referred through the API, in an area whose referrals may wait 0 days.
    slow = new_reference("DASH")
    officer = auth("officer_in_case", area=AREA)
    assert (await api.post("/cases", json=new_case_body(slow, area=AREA),
                           headers=officer)).status_code == 201
    for kind, fields in (("record_risk_assessment", {"complainant_id": "C1", "assessment": {
            "tool": "DASH", "level": "medium", "assessed_on": "2026-11-20", "assessor": "PC 1"}}),
                         ("refer_to_cps", {})):
        response = await api.post(f"/cases/{slow}/actions", headers=officer, json={
            "action": {"kind": kind, **{**ACTION_EXAMPLES[kind], **fields}}})
        assert response.status_code == 200, response.text

    def referred() -> bool:
        with Session(engine) as session:
            row = session.get(CaseRow, slow)
            return row is not None and row.state == "referral"

    await eventually(referred)
    return {"over_service_level": slow, "overdue_deadline": overdue.reference,
            "failing_activity": failing.reference}


async def _projected_failing(engine: Any, reference: str) -> None:
    from sqlmodel import col, select

    from models.monitoring import DeadlineRow

    def failing() -> bool:
        with Session(engine) as session:
            return session.exec(select(DeadlineRow).where(
                col(DeadlineRow.reference) == reference,
                col(DeadlineRow.failing).is_not(None))).first() is not None

    await eventually(failing, timeout=15)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()


async def sign_in(page: Any, server: str, username: str = "manager-dash",
                  password: str = PASSWORD) -> None:
    await page.goto(f"{server}/dashboard")
    assert page.url.endswith("/dashboard/login")  # not signed in: sent to the login form
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def tab_to(page: Any, element_id: str, most: int = 60) -> None:
    """Press Tab until the element has the focus, as someone without a mouse gets there."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def shot(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


async def test_login_refuses_a_wrong_password(page, server):
    await sign_in(page, server, password="wrong")
    assert await page.locator(".error").inner_text() == "Wrong username or password."
    assert await page.context.cookies() == []


async def test_each_kind_of_stuck_case_shows_with_its_reason(page, server, stuck_cases):
    await sign_in(page, server)
    await page.wait_for_selector("#stuck-table")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "cases_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    for reason, reference in stuck_cases.items():
        row = page.locator(f"tr[data-reference='{reference}']")
        await row.wait_for()
        assert await row.locator(f"li[data-reason='{reason}']").count() == 1, reason
    slow = page.locator(f"tr[data-reference='{stuck_cases['over_service_level']}']")
    assert await slow.locator("td.owner").inner_text() == "prosecutor"
    await page.screenshot(path=str(shot("dashboard-stuck-list.png")), full_page=True)


async def test_filters_narrow_the_list(page, server, stuck_cases):
    await sign_in(page, server)
    await page.wait_for_selector("#stuck-table")
    # Choosing a reason applies it at once (a little script submits the form).
    async with page.expect_navigation():
        await page.select_option("select[name=reason]", "failing_activity")
    assert "reason=failing_activity" in page.url
    shown = await page.locator("tr[data-reference]").evaluate_all(
        "rows => rows.map(r => r.dataset.reference)")
    assert stuck_cases["failing_activity"] in shown
    assert stuck_cases["over_service_level"] not in shown
    assert stuck_cases["overdue_deadline"] not in shown
    async with page.expect_navigation():
        await page.select_option("select[name=reason]", "")
    async with page.expect_navigation():
        await page.select_option("select[name=state]", "referral")
    shown = await page.locator("tr[data-reference]").evaluate_all(
        "rows => rows.map(r => r.dataset.reference)")
    assert shown == [stuck_cases["over_service_level"]]


async def test_a_stuck_case_opens_with_reasons_timeline_diagram_and_deadlines(page, server,
                                                                              stuck_cases,
                                                                              settings):
    reference = stuck_cases["over_service_level"]
    await sign_in(page, server)
    await page.click(f"tr[data-reference='{reference}'] a")
    await page.wait_for_selector("#why-stuck")
    assert await page.locator("#why-stuck li[data-reason='over_service_level']").count() == 1
    current = page.locator("svg.lifecycle g.state.current")
    assert await current.get_attribute("data-state") == "referral"
    assert await page.locator("svg.lifecycle g.state").count() == 8
    actions = await page.locator("ol.timeline li").evaluate_all(
        "items => items.map(i => i.dataset.action)")
    assert actions == ["open_case", "record_risk_assessment", "refer_to_cps"]
    assert await page.locator("#deadlines tr[data-deadline='contact_details']").count() == 1
    assert await page.locator("#time-in-state svg.chart g.bar").count() >= 2
    link = await page.locator("#temporal-link").get_attribute("href")
    assert link == (f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
                    f"/workflows/case-{reference}")
    text = await page.content()
    for secret in ("Secret Street", "07700", "Complainant C1", "John Example"):
        assert secret not in text  # no names or contact details on the dashboard
    await page.screenshot(path=str(shot("dashboard-case-page.png")), full_page=True)


async def test_overdue_and_failing_cases_show_their_deadline_status(page, server, stuck_cases):
    await sign_in(page, server)
    await page.wait_for_selector("#stuck-table")
    await page.goto(f"{server}/dashboard/cases/{stuck_cases['overdue_deadline']}")
    row = page.locator("#deadlines tr[data-deadline='contact_details']")
    assert "overdue" in await row.locator(".badge.overdue").inner_text()
    assert await page.locator("#why-stuck li[data-reason='overdue_deadline']").count() == 1
    await page.goto(f"{server}/dashboard/cases/{stuck_cases['failing_activity']}")
    assert await page.locator("#deadlines .badge.failing").count() == 1
    assert await page.locator("#why-stuck li[data-reason='failing_activity']").count() == 1


async def test_another_areas_manager_sees_none_of_them(page, server, stuck_cases):
    await sign_in(page, server, username="manager-elsewhere")
    await page.wait_for_selector("#stuck-count")
    body = await page.content()
    assert not any(reference in body for reference in stuck_cases.values())
    response = await page.goto(f"{server}/dashboard/cases/{stuck_cases['over_service_level']}")
    assert response is not None and response.status == 404


async def test_reports_page_charts_time_in_state_and_offers_csv(page, server, stuck_cases):
    await sign_in(page, server)
    await page.wait_for_selector("#stuck-table")
    await page.goto(f"{server}/dashboard/reports")
    assert await page.locator("#report-spoc-monthly table").count() == 1
    assert await page.locator("#time-in-state-chart svg.chart").count() == 1
    href = await page.locator("#report-referrals a.csv").get_attribute("href")
    csv = await page.request.get(f"{server}{href}")
    assert csv.status == 200 and (await csv.text()).startswith("referrals,cases")
    await page.screenshot(path=str(shot("dashboard-reports.png")), full_page=True)


async def test_a_period_that_cannot_be_reported_is_said_on_the_page(page, server):
    await sign_in(page, server)
    await page.wait_for_selector("#stuck-count")
    for query, said in (("since=2026-12-01&until=2026-11-01", "since must be on or before until"),
                        ("since=2026-13-40", "From must be a date (YYYY-MM-DD)"),
                        ("since=2020-01-01&until=2026-01-01", "at most three years")):
        response = await page.goto(f"{server}/dashboard/reports?{query}")
        assert response is not None and response.status == 422
        assert said in await page.inner_text("#report-error")
        assert await page.locator("form.filters input[name=since]").count() == 1  # to correct it
        assert await page.locator("section.report").count() == 0


async def test_signed_out_pages_send_to_the_login(page, server):
    response = await page.goto(f"{server}/dashboard/cases/ANY-CASE")
    assert response is not None and page.url.endswith("/dashboard/login")


async def test_a_long_stuck_list_is_shown_a_page_at_a_time(page, server, engine):
    """A force with more stuck cases than a page: the count says how many, the pages walk them
    longest-stuck first, and no case is on two pages."""
    area = f"pages-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    with Session(engine) as session:
        for i in range(130):  # all over their service level (referral: 7 days)
            since = now - timedelta(days=30 + i)
            session.add(CaseRow(reference=f"PAGE-{area[-6:].upper()}-{i:03d}", police_area=area,
                                cps_area=area, state="referral", stalking=True,
                                domestic_abuse=False, version=2, opened_at=since,
                                state_since=since, updated_at=since))
        session.merge(UserRow(username="manager-pages", password_hash=hash_password(PASSWORD),
                              role="manager", area=area))
        session.commit()
    await sign_in(page, server, username="manager-pages")
    await page.wait_for_selector("#stuck-count")
    assert "130 stuck cases, showing 1 to 100" in await page.inner_text("#stuck-count")
    first = await page.eval_on_selector_all("#stuck-table tbody tr",
                                            "rows => rows.map(r => r.dataset.reference)")
    assert first[0].endswith("-129") and len(first) == 100  # longest in its state first
    assert await page.query_selector("#previous-page") is None
    await page.click("#next-page")
    await page.wait_for_selector("#previous-page")
    assert "showing 101 to 130" in await page.inner_text("#stuck-count")
    second = await page.eval_on_selector_all("#stuck-table tbody tr",
                                             "rows => rows.map(r => r.dataset.reference)")
    assert len(second) == 30 and not set(first) & set(second)
    assert await page.query_selector("#next-page") is None


def _seeded_area(engine: Any, prefix: str) -> tuple[str, str]:
    """A fresh area and its manager's username; the manager may sign in with PASSWORD."""
    area = f"{prefix}-{uuid.uuid4().hex[:6]}"
    username = f"manager-{area}"
    with Session(engine) as session:
        session.merge(UserRow(username=username, password_hash=hash_password(PASSWORD),
                              role="manager", area=area))
        session.commit()
    return area, username


def _case_row(reference: str, area: str, days_in_state: float, **fields: Any) -> CaseRow:
    since = datetime.now(UTC) - timedelta(days=days_in_state)
    return CaseRow(**{"reference": reference, "police_area": area, "cps_area": area,
                      "state": "referral", "stalking": True, "domestic_abuse": False,
                      "version": 2, "opened_at": since, "state_since": since,
                      "updated_at": since, **fields})


async def test_the_stuck_list_names_the_person_and_shows_risk(page, server, engine):
    from models.tables import CaseTeamRow

    area, username = _seeded_area(engine, "people")
    named, nobody = f"PPL-{area[-6:].upper()}-1", f"PPL-{area[-6:].upper()}-2"
    with Session(engine) as session:  # both referrals over their week: the prosecutor's move
        session.add(_case_row(named, area, 20, risk_level="high", domestic_abuse=True,
                              repeat_perpetrator=True, breaches=1))
        session.add(_case_row(nobody, area, 10))
        session.add(CaseTeamRow(reference=named, role="prosecutor", user_id="cps-lawyer-7"))
        session.commit()
    await sign_in(page, server, username=username)
    await page.wait_for_selector("#stuck-table")
    first = page.locator(f"tr[data-reference='{named}']")
    assert await first.locator("td.person").inner_text() == "cps-lawyer-7"
    assert await first.locator("[data-risk='high']").count() == 1
    for flag in ("domestic_abuse", "repeat_perpetrator", "breach"):
        assert await first.locator(f"[data-flag='{flag}']").count() == 1, flag
    second = page.locator(f"tr[data-reference='{nobody}']")
    assert await second.locator("td.person").inner_text() == "unassigned"
    assert await second.locator("[data-flag]").count() == 0
    await page.screenshot(path=str(shot("dashboard-stuck-people.png")), full_page=True)
    async with page.expect_navigation():  # ticking the box applies it at once
        await page.check("input[name=unassigned]")
    assert "unassigned=1" in page.url
    shown = await page.locator("tr[data-reference]").evaluate_all(
        "rows => rows.map(r => r.dataset.reference)")
    assert shown == [nobody]


async def test_the_due_soon_page_lists_what_falls_due_with_its_person(page, server, engine):
    from models.monitoring import DeadlineRow
    from models.tables import CaseTeamRow

    area, username = _seeded_area(engine, "soon")
    reference = f"SOON-{area[-6:].upper()}"
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(_case_row(reference, area, 1, state="investigation", risk_level="medium"))
        session.add(CaseTeamRow(reference=reference, role="officer_in_case", user_id="pc-4021"))
        for deadline_id, due in (("contact_details", now + timedelta(hours=1)),
                                 ("risk_review:C1", now + timedelta(days=40))):
            session.add(DeadlineRow(reference=reference, deadline_id=deadline_id, version=2,
                                    kind=deadline_id.split(":")[0], rule="P6.4",
                                    description="Agree a SPOC with C1 on 07700 900123",
                                    owner_role="officer_in_case", due_at=due, remind_at=due,
                                    opened_at=now))
        session.commit()
    await sign_in(page, server, username=username)
    await page.wait_for_selector("#stuck-count")
    await page.click("header nav a[href='/dashboard/due-soon']")
    await page.wait_for_selector("#due-table")
    rows = page.locator("#due-table tbody tr")
    assert await rows.count() == 1  # the review falls due long after five working days
    row = page.locator(f"tr[data-reference='{reference}'][data-deadline='contact_details']")
    assert await row.locator("td.person").inner_text() == "pc-4021"
    assert await row.locator("[data-risk='medium']").count() == 1
    assert "1 deadline due by" in await page.inner_text("#due-count")
    assert "900123" not in await page.content()
    await page.screenshot(path=str(shot("dashboard-due-soon.png")), full_page=True)


async def test_the_case_page_lists_orders_in_force_and_links_linked_cases(page, server, engine):
    area, username = _seeded_area(engine, "orders")
    tag = area[-6:].upper()
    reference, linked_here, linked_away = f"ORD-{tag}", f"ORD-{tag}-NEAR", f"ORD-{tag}-FAR"
    orders = [{"order_id": "RO1", "kind": "restraining_order", "protected_person_ids": ["C1"],
               "made_on": "2026-01-05", "ends_on": None},
              {"order_id": "RO0", "kind": "restraining_order", "protected_person_ids": ["C1"],
               "made_on": "2024-01-05", "ends_on": "2025-01-05"}]  # ran out: not in force
    with Session(engine) as session:
        session.add(_case_row(reference, area, 1, state="restraining_order",
                              orders_in_force=json.dumps(orders),
                              linked_cases=f"{linked_here},{linked_away}"))
        session.add(_case_row(linked_here, area, 1))
        session.add(_case_row(linked_away, f"{area}-far", 1))
        session.commit()
    await sign_in(page, server, username=username)
    await page.wait_for_selector("#stuck-count")
    await page.goto(f"{server}/dashboard/cases/{reference}")
    assert await page.locator("#orders tr[data-order]").evaluate_all(
        "rows => rows.map(r => r.dataset.order)") == ["RO1"]
    near = page.locator(f"#linked-cases li[data-linked='{linked_here}'] a")
    assert await near.get_attribute("href") == f"/dashboard/cases/{linked_here}"
    # Another area's case: that it exists and whom to contact, never its reference (P3.8).
    far = page.locator("#linked-cases li[data-linked='elsewhere']")
    assert await far.locator("a").count() == 0
    assert await far.inner_text() == f"A case in {area}-far: contact its Police SPOC"
    assert linked_away not in await page.content()
    await page.screenshot(path=str(shot("dashboard-case-orders.png")), full_page=True)
    await near.click()
    await page.wait_for_selector("#why-stuck")
    assert page.url.endswith(f"/dashboard/cases/{linked_here}")


async def test_a_manager_hands_a_persons_cases_over_by_keyboard_alone(page, server, engine, api,
                                                                     auth):
    """From the dashboard's navigation to the handover page, every field with its label; the
    form filled and sent by keyboard, a missing reason's error in the summary taking the
    focus back to its field; the case then names the colleague."""
    area, username = _seeded_area(engine, "hand")
    leaving, staying = f"pc-leaving-{area}", f"pc-staying-{area}"
    for user, name in ((leaving, "Lee Leaving"), (staying, "Sam Staying")):
        made = await api.put(f"/people/{user}", headers=auth("admin", area=area),
                             json={"display_name": name, "role": "officer_in_case", "area": area})
        assert made.status_code == 201, made.text
    reference = new_reference("HAND")
    opened = await api.post("/cases", json=new_case_body(reference, area=area),
                            headers=auth("officer_in_case", area=area, user=leaving))
    assert opened.status_code == 201, opened.text

    def projected() -> bool:
        from models.tables import CaseTeamRow

        with Session(engine) as session:
            return session.get(CaseTeamRow, (reference, "officer_in_case")) is not None

    await eventually(projected)
    await sign_in(page, server, username=username)
    await page.wait_for_selector("#stuck-count")
    async with page.expect_navigation():
        await page.click("header nav a[href='/dashboard/handover']")
    unlabelled = await page.eval_on_selector_all(
        "#handover-form input:not([type=hidden]), #handover-form select, "
        "#handover-form textarea", "fields => fields.filter(f => !f.labels.length).map(f => f.id)")
    assert unlabelled == []
    await tab_to(page, "f-from_user")
    await page.keyboard.type("Lee")  # a select takes the first letters of its choice
    assert await page.input_value("#f-from_user") == leaving
    await page.keyboard.press("Tab")
    await page.keyboard.type("Sam")
    assert await page.input_value("#f-to_user") == staying
    await page.keyboard.press("Tab")  # the first role
    await page.keyboard.press("Space")
    assert await page.is_checked("#f-roles")
    await tab_to(page, "submit-handover")
    async with page.expect_navigation() as navigation:
        await page.keyboard.press("Enter")  # sent without a reason
    assert (await navigation.value).status == 422
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == \
        "Enter the reason for the handover"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "f-reason"
    assert (await page.evaluate("document.activeElement.labels[0].textContent")).strip() == "Reason"
    assert await page.input_value("#f-to_user") == staying  # kept
    await page.screenshot(path=str(shot("dashboard-handover-error.png")), full_page=True)
    await page.keyboard.type("Long-term leave from Monday")
    await page.keyboard.press("Tab")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    outcome = page.locator("#handover-outcome")
    assert await outcome.get_attribute("data-moved") == "1"
    assert await page.locator(f"#moved tr[data-reference='{reference}']").count() == 1
    await page.screenshot(path=str(shot("dashboard-handover.png")), full_page=True)
    case = (await api.get(f"/cases/{reference}", headers=auth("manager", area=area))).json()
    assert case["team"]["officer_in_case"]["user_id"] == staying
