"""The case handler's workspace in a real browser: Debian's headless Chromium driven by
Playwright, against the API served by uvicorn on a free port, with the suite's Temporal and
database (as tests/test_dashboard_browser.py does).

One case goes from report to restraining order through the browser alone, each step taken by
the role whose step it is, signed in as that user; one refusal is shown with its rule and then
met by taking the missing step. A form is filled and sent by keyboard alone. Screenshots of
the my-work page and of the case page go to docs/.
"""

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session

from api.main import create_app
from core.security import hash_password
from models.tables import UserRow
from tests.api_steps import new_case_body, new_reference
from tests.test_dashboard_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    free_port,
    playwright_api,
    tab_to,
)

pytestmark = pytest.mark.asyncio

DOCS = Path(__file__).resolve().parents[1] / "docs"
AREA = f"work-{uuid.uuid4().hex[:6]}"
OFFICER, PROSECUTOR, CPS_SPOC = f"oic-{AREA}", f"cps-{AREA}", f"cpsspoc-{AREA}"
MANAGER, ELSEWHERE = f"manager-{AREA}", f"oic-elsewhere-{AREA}"
ROLES = {OFFICER: "officer_in_case", PROSECUTOR: "prosecutor", CPS_SPOC: "cps_spoc",
         MANAGER: "manager", ELSEWHERE: "officer_in_case"}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def doc_shot(name: str) -> Path:
    """Where a screenshot the README shows goes: docs/ when CASES_DOCS_SCREENSHOTS=1 (to
    refresh them), else test-artifacts/, so a test run leaves the tree as it found it."""
    if os.environ.get("CASES_DOCS_SCREENSHOTS") == "1":
        return DOCS / name
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture(scope="module")
def server(client, settings, engine, worker) -> Iterator[str]:
    """The API with the dashboard and the workspace, under uvicorn in a thread."""
    app = create_app(settings, client, engine)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if uv.started:
            break
        threading.Event().wait(0.05)
    assert uv.started, "uvicorn did not start"
    with Session(engine) as session:
        for name, role in ROLES.items():
            session.merge(UserRow(username=name, password_hash=hash_password(PASSWORD),
                                  role=role, area=f"{AREA}-x" if name == ELSEWHERE else AREA))
        session.commit()
    yield f"http://127.0.0.1:{uv.config.port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


class Desk:
    """One signed-in user's browser: the steps a case handler takes on the workspace."""

    def __init__(self, page: Any, server: str) -> None:
        self.page, self.server = page, server

    @classmethod
    async def sign_in(cls, browser: Any, server: str, username: str) -> "Desk":
        context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                            locale="en-GB")
        page = await context.new_page()
        await page.goto(f"{server}/dashboard/login")
        await page.fill("#username", username)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{server}/dashboard/work")  # handlers land on their work
        return cls(page, server)

    async def close(self) -> None:
        await self.page.context.close()

    async def open_case(self, reference: str) -> None:
        await self.page.goto(f"{self.server}/dashboard/work/cases/{reference}")
        await self.page.wait_for_selector("#case-state")

    async def start(self, reference: str, kind: str) -> None:
        """The action's form, reached from the case page's list of what the user can do."""
        await self.open_case(reference)
        await self.page.click(f"#actions a[data-kind='{kind}']")
        await self.page.wait_for_selector(f"#action-form[data-kind='{kind}']")

    async def fill(self, path: str, value: str) -> None:
        await self.page.fill(f"[name='{path}']", value)

    async def choose(self, path: str, value: str) -> None:
        """Pick a choice, whether the form shows it as radios (a few) or a select (more)."""
        if await self.page.locator(f"select[name='{path}']").count():
            await self.page.select_option(f"select[name='{path}']", value)
        else:
            await self.page.check(f"input[name='{path}'][value='{value}']")

    async def send(self, expect_state: str | None = None) -> None:
        async with self.page.expect_navigation():
            await self.page.click("#submit-action")
        if expect_state is not None:
            await self.page.wait_for_selector("#done")
            assert await self.state() == expect_state

    async def act(self, reference: str, kind: str, fields: dict[str, str] | None = None,
                  choices: dict[str, str] | None = None, state: str | None = None) -> None:
        await self.start(reference, kind)
        for path, value in (choices or {}).items():
            await self.choose(f"action.{path}", value)
        for path, value in (fields or {}).items():
            await self.fill(f"action.{path}", value)
        await self.send(state)

    async def state(self) -> str:
        return str(await self.page.get_attribute("#case-state", "data-state"))

    async def timeline(self) -> list[str]:
        return list(await self.page.locator("ol.timeline li").evaluate_all(
            "items => items.map(i => i.dataset.action)"))


async def test_a_case_from_report_to_restraining_order_through_the_browser(browser, server):
    reference = new_reference("WORK")
    officer = await Desk.sign_in(browser, server, OFFICER)
    prosecutor = await Desk.sign_in(browser, server, PROSECUTOR)
    try:
        await _report(officer, reference)
        await _refused_then_met(officer, reference)
        await _prosecutor_takes_it_on(prosecutor, reference)
        await prosecutor.act(reference, "begin_charging_review", state="charging")
        await prosecutor.start(reference, "make_charging_decision")
        await prosecutor.choose("action.decision", "charge")
        await prosecutor.page.check("input[name='action.charges'][value='pha1997_s4a']")
        await prosecutor.fill("action.reasons", "Full Code Test met; fear of violence.")
        await prosecutor.fill("action.action_plan.0.item_id", "AP1")
        await prosecutor.fill("action.action_plan.0.description", "Obtain the phone download")
        await prosecutor.fill("action.action_plan.0.due_on", "2027-01-15")
        ARTIFACTS.mkdir(exist_ok=True)
        await prosecutor.page.screenshot(path=str(ARTIFACTS / "workspace-charging-form.png"),
                                         full_page=True)
        await prosecutor.send("preparation")
        assert await prosecutor.page.inner_text("#charges") == \
            "Stalking involving fear of violence or serious alarm or distress (pha1997_s4a)"
        await officer.act(reference, "record_vps", choices={"complainant_id": "C1"}, fields={
            "vps.taken_on": "2026-11-21", "vps.presentation": "Read by the prosecutor"})
        await prosecutor.act(reference, "record_first_appearance",
                             fields={"on": "2026-12-01T10:00"}, state="pleas")
        await prosecutor.act(reference, "enter_pleas", choices={"guilty": "no"}, state="trial")
        await prosecutor.act(reference, "record_verdict", choices={"verdict": "convicted"})
        await officer.act(reference, "record_order_views", choices={"complainant_id": "C1"},
                          fields={"views": "No contact; keep away from Smith Street."})
        await officer.act(reference, "reverify_order_details",
                          fields={"note": "Address confirmed with the complainant."})
        await prosecutor.act(reference, "apply_restraining_order",
                             choices={"form": "MG3", "mg5_served": "yes",
                                      "draft.0.protected_person_id": "C1"},
                             fields={"draft.0.prohibitions": "no contact\nnot to enter Smith Street"},
                             state="restraining_order")
        await prosecutor.act(reference, "make_restraining_order",
                             choices={"orders.0.protected_person_id": "C1"},
                             fields={"orders.0.conditions": "no contact\nnot to enter Smith Street",
                                     "orders.0.made_on": "2026-12-02"},
                             state="restraining_order")
        order = prosecutor.page.locator("#orders .order")
        assert await order.count() == 1
        assert "not to enter Smith Street" in await order.inner_text()
        steps = await prosecutor.timeline()
        assert steps == ["open_case", "record_risk_assessment", "refer_to_cps",
                         "assign_case_team_member", "begin_charging_review",
                         "make_charging_decision", "record_vps", "record_first_appearance",
                         "enter_pleas", "record_verdict", "record_order_views",
                         "reverify_order_details", "apply_restraining_order",
                         "make_restraining_order"]
        await prosecutor.page.screenshot(path=str(doc_shot("workspace-case.png")), full_page=True)
        await _officer_sees_the_deadlines_the_order_opened(officer, reference)
    finally:
        await officer.close()
        await prosecutor.close()


async def _report(officer: Desk, reference: str) -> None:
    page = officer.page
    await page.click("#report-a-case")
    await page.fill("[name=reference]", reference)
    await officer.choose("stalking", "yes")
    await officer.choose("domestic_abuse", "no")
    await page.fill("[name='suspects.0.suspect_id']", "S1")
    # A suspect of its own: one shared with other tests' cases would be linked to them (P3.8).
    await page.fill("[name='suspects.0.name']", f"John {reference.replace('-', ' ')}")
    await page.fill("[name='suspects.0.date_of_birth']", "1983-04-02")
    await page.fill("[name='complainants.0.complainant_id']", "C1")
    await page.fill("[name='complainants.0.name']", "Complainant One")
    await page.fill("[name='complainants.0.contact.phone']", "07700 900999")
    await page.check("input[name=offences][value=pha1997_s4a]")
    async with page.expect_navigation():
        await page.click("#submit-report")
    await page.wait_for_selector("#done[data-done=open_case]")
    assert await officer.state() == "investigation"
    # The reporting officer is the case's first named member.
    assert f"{OFFICER} (you)" in await page.inner_text("#team [data-role=officer_in_case]")


async def _refused_then_met(officer: Desk, reference: str) -> None:
    """Referring before the complainant's risk is assessed is refused (P3.7), the form shown
    again with what was typed; once the assessment is recorded, the same referral goes."""
    page = officer.page
    await officer.start(reference, "refer_to_cps")
    await officer.fill("action.statements", "3")
    await page.check("input[name='action.risk_documentation']")
    async with page.expect_navigation() as navigation:
        await page.click("#submit-action")
    assert (await navigation.value).status == 409
    assert await page.get_attribute("#refusal", "data-rule") == "P3.7"
    assert "risk assessment" in await page.inner_text("#refusal")
    assert "P3.7" in await page.inner_text("#error-summary")
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    assert await page.input_value("[name='action.statements']") == "3"  # kept
    assert await page.is_checked("input[name='action.risk_documentation']")
    await page.screenshot(path=str(doc_shot("workspace-refusal.png")), full_page=True)
    await officer.open_case(reference)
    assert await officer.timeline() == ["open_case"]  # nothing changed
    await officer.act(reference, "record_risk_assessment",
                      choices={"complainant_id": "C1", "assessment.tool": "S-DASH",
                               "assessment.level": "medium"},
                      fields={"assessment.assessed_on": "2026-11-20",
                              "assessment.assessor": "PC 1234"})
    await officer.start(reference, "refer_to_cps")
    await officer.fill("action.statements", "3")
    await page.check("input[name='action.risk_documentation']")
    await officer.send("referral")


async def _prosecutor_takes_it_on(prosecutor: Desk, reference: str) -> None:
    """A referral names its case: the prosecutor finds it, names themself to it, and it is
    theirs to move on."""
    page = prosecutor.page
    assert await page.locator(f"#awaiting-me tr[data-reference='{reference}']").count() == 0
    await page.fill("#find-reference", reference.lower())
    async with page.expect_navigation():
        await page.press("#find-reference", "Enter")
    await page.wait_for_selector("#case-state")
    await prosecutor.act(reference, "assign_case_team_member",
                         choices={"role": "prosecutor"}, fields={"user_id": PROSECUTOR})
    await page.goto(f"{prosecutor.server}/dashboard/work")
    row = page.locator(f"#awaiting-me tr[data-reference='{reference}']")
    assert "Referral" in await row.inner_text()


async def _officer_sees_the_deadlines_the_order_opened(officer: Desk, reference: str) -> None:
    """My work is read from the read model, which the order's answer reaches a moment after."""
    page = officer.page
    wanted = {"tell_order_conditions", "contact_details", "risk_review"}
    kinds: set[str] = set()
    for _ in range(40):
        await page.goto(f"{officer.server}/dashboard/work")
        rows = page.locator(f"#my-deadlines tr[data-reference='{reference}']")
        kinds = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.deadline)"))
        if wanted <= kinds:
            break
        await asyncio.sleep(0.25)
    assert wanted <= kinds, kinds
    assert "addendum_vps" not in kinds  # witness care's, not the officer's
    await page.screenshot(path=str(doc_shot("workspace-my-work.png")), full_page=True)


@pytest.fixture
async def referred_case(api, auth) -> str:
    """A case opened through the API by this area's officer (the browser walk opens its own)."""
    reference = new_reference("KEYS")
    response = await api.post("/cases", json=new_case_body(reference, area=AREA),
                              headers=auth("officer_in_case", area=AREA, user=OFFICER))
    assert response.status_code == 201, response.text
    return reference


async def test_a_form_by_keyboard_alone(browser, server, referred_case):
    """Tab to each field (every one has its label), type, and send with Enter; a missing
    field's error in the summary takes the focus back to the field."""
    officer = await Desk.sign_in(browser, server, OFFICER)
    page = officer.page
    try:
        await page.goto(f"{server}/dashboard/work/cases/{referred_case}/act/record_evidence_item")
        await tab_to(page, "f-action-note")
        await page.keyboard.type("Three months of call data")
        await page.keyboard.press("Shift+Tab")  # back to the item, the field before
        assert await page.evaluate("document.activeElement.id") == "f-action-item"
        async with page.expect_navigation():
            await page.keyboard.press("Enter")  # sent with the item left empty
        assert await page.evaluate("document.activeElement.id") == "error-summary"
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Enter item"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "f-action-item"
        label = await page.evaluate("document.activeElement.labels[0].textContent")
        assert label.strip() == "Item"
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # the focus is visible
        assert await page.input_value("#f-action-note") == "Three months of call data"
        await page.keyboard.type("call data obtained")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        await page.wait_for_selector("#done[data-done=record_evidence_item]")
        assert (await officer.timeline())[-1] == "record_evidence_item"
    finally:
        await officer.close()


async def test_a_double_submit_applies_once_and_a_form_without_its_token_changes_nothing(
        browser, server, referred_case):
    officer = await Desk.sign_in(browser, server, OFFICER)
    page = officer.page
    try:
        await officer.start(referred_case, "record_new_incident")
        form = {"csrf_token": await page.input_value("[name=csrf_token]"),
                "idempotency_key": await page.input_value("[name=idempotency_key]"),
                "action.description": "Twenty calls overnight."}
        url = f"{server}/dashboard/work/cases/{referred_case}/act/record_new_incident"
        for _ in range(2):  # the same form sent twice
            sent = await page.request.post(url, form=form, max_redirects=0)
            assert sent.status == 303
        forged = await page.request.post(url, form={**form, "csrf_token": "x",
                                                    "idempotency_key": str(uuid.uuid4())},
                                         max_redirects=0)
        assert forged.status == 403
        await officer.open_case(referred_case)
        assert (await officer.timeline()).count("record_new_incident") == 1
    finally:
        await officer.close()


async def test_each_role_sees_the_case_as_the_api_shows_it(browser, server, referred_case):
    """The CPS SPOC does not contact complainants: their contact details are withheld, as
    GET /cases/{reference} withholds them; the officer sees them. Another role's action is
    refused before any form is shown."""
    spoc = await Desk.sign_in(browser, server, CPS_SPOC)
    officer = await Desk.sign_in(browser, server, OFFICER)
    try:
        await spoc.open_case(referred_case)
        phone = spoc.page.locator("[data-complainant=C1] .contact-phone")
        assert await phone.inner_text() == "[withheld]"
        assert "07700" not in await spoc.page.content()
        await officer.open_case(referred_case)
        assert await officer.page.locator("[data-complainant=C1] .contact-phone").inner_text() \
            == "07700 900999"
        response = await officer.page.goto(
            f"{server}/dashboard/work/cases/{referred_case}/act/make_restraining_order")
        assert response is not None and response.status == 403
        assert await officer.page.get_attribute("#problem", "data-rule") == "ACCESS"
    finally:
        await spoc.close()
        await officer.close()


async def test_another_areas_handler_is_told_no_such_case(browser, server, referred_case):
    """As the API answers another area's case: 404, as if it did not exist."""
    elsewhere = await Desk.sign_in(browser, server, ELSEWHERE)
    try:
        for path in ("", "/act/record_new_incident"):
            response = await elsewhere.page.goto(
                f"{server}/dashboard/work/cases/{referred_case}{path}")
            assert response is not None and response.status == 404
            assert await elsewhere.page.get_attribute("#problem", "data-rule") == "NOT_FOUND"
    finally:
        await elsewhere.close()


async def test_malformed_input_is_said_beside_its_field_and_changes_nothing(browser, server,
                                                                             referred_case):
    officer = await Desk.sign_in(browser, server, OFFICER)
    page = officer.page
    try:
        await officer.start(referred_case, "refer_to_cps")
        await officer.fill("action.statements", "three")
        async with page.expect_navigation() as navigation:
            await page.click("#submit-action")
        assert (await navigation.value).status == 422
        error = page.locator("[data-field='action.statements'] .govuk-error-message")
        assert "whole number" in await error.inner_text()
        assert await page.input_value("[name='action.statements']") == "three"
        await officer.open_case(referred_case)
        assert await officer.state() == "investigation"
    finally:
        await officer.close()


async def test_managers_keep_landing_on_the_dashboard(browser, server):
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{server}/dashboard/login")
        await page.fill("#username", MANAGER)
        await page.fill("#password", PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        assert page.url == f"{server}/dashboard"
        await page.goto(f"{server}/dashboard/work")  # the workspace is for case handlers
        assert page.url == f"{server}/dashboard"
    finally:
        await context.close()
