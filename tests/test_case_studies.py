"""The two case studies of the CPS guidance on breaches of restraining orders, end to end.

Source: shared/domain/000_b4bbbd5a1489d380.txt ("'Blatant disregard' of restraining orders will
carry serious consequences"), cited as G in shared/design/protocol-rules.md. Each scenario runs
through the HTTP API only: a real Temporal dev server, a real worker, the real read model.

Dates inside actions (orders made, risk assessed) follow the story; the service itself runs
at the real "now", so deadlines such as P9.2's fourteen-day re-verification use today.
"""

from datetime import date
from typing import Any

import pytest

from tests.api_steps import Handler, new_reference
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio

OFFICER, PROSECUTOR = "officer_in_case", "prosecutor"
STALKING_S4A = "pha1997_s4a"
HARASSMENT_S2 = "pha1997_s2"
HARASSMENT_S4 = "pha1997_s4"
BREACH = "pha1997_s5_breach"
MALICIOUS_COMMS = "mca1988_s1"


def _risk(level: str, on: str, tool: str = "DASH") -> dict[str, Any]:
    return {"tool": tool, "level": level, "assessed_on": on, "assessor": "PC 4321 Taylor"}


async def _convict_and_order(handler: Handler, complainant: str, charges: list[str], *,
                             year: int, made_on: str, harassment_only: bool = False) -> dict:
    """The first case: referred, charged, guilty pleas, an indefinite order for the ex-partner."""
    await handler.act(OFFICER, "record_risk_assessment", complainant_id=complainant,
                      assessment=_risk("medium", f"{year}-03-01"))
    await handler.act(OFFICER, "refer_to_cps")
    await handler.act(PROSECUTOR, "begin_charging_review")
    if harassment_only:  # P3.10: a harassment-only charge needs stalking considered first
        await handler.act(PROSECUTOR, "record_stalking_considered",
                          decision="Harassment, not stalking",
                          reasons="Unwanted messages; no fixation, monitoring or following.")
    charged = await handler.act(PROSECUTOR, "make_charging_decision", charges=charges,
                                no_further_work=True, action_plan=[],
                                reasons="Full Code Test met.")
    assert charged["state"] == "preparation" and charged["case"]["charges"] == charges
    await handler.act(OFFICER, "record_vps", complainant_id=complainant,
                      vps={"taken_on": f"{year}-04-01", "presentation": "read by prosecutor"})
    await handler.act(PROSECUTOR, "record_first_appearance", on=f"{year}-04-10T10:00:00Z")
    pleas = await handler.act(PROSECUTOR, "enter_pleas", guilty=True)
    assert pleas["case"]["verdict"] == "convicted"
    await handler.act(OFFICER, "record_order_views", complainant_id=complainant,
                      views="Wants no contact and an exclusion from her street and workplace.")
    await handler.act(OFFICER, "reverify_order_details",
                      note="Addresses and prohibited locations confirmed with the complainant.")
    await handler.act(PROSECUTOR, "apply_restraining_order", form="MG3", mg5_served=True, draft=[
        {"protected_person_id": complainant, "prohibitions": ["no contact"]}])
    made = await handler.act(PROSECUTOR, "make_restraining_order", orders=[{
        "protected_person_id": complainant, "made_on": made_on,
        "conditions": ["no contact, direct or indirect",
                       "not to enter the prohibited locations in the schedule"]}])
    assert made["state"] == "restraining_order"
    order = made["case"]["orders"][0]
    assert order["order_id"] == f"{handler.reference}-RO1"
    assert order["protected_person_id"] == complainant
    assert order["expires_on"] is None and order["revoked_at"] is None  # indefinite, in force
    return made["case"]


async def _report_breach(api, auth, first: Handler, breach_ref: str, description: str,
                         new_offences: list[str]) -> tuple[dict, Handler]:
    """P9.5: the breach is reported on the first case and opens a linked case of its own."""
    reported = await first.act(OFFICER, "report_order_breach", order_id=f"{first.reference}-RO1",
                               breach_reference=breach_ref, description=description,
                               new_offences=new_offences)
    first_case = reported["case"]
    # The first case keeps its order in force and stays where it was; it records the breach.
    assert reported["state"] == "restraining_order"
    assert first_case["orders"][0]["revoked_at"] is None
    assert first_case["incidents"][-1]["kind"] == "order_breach"
    assert {"reference": breach_ref, "relation": "breach case", "area": "north"} in [
        {k: link[k] for k in ("reference", "relation", "area")}
        for link in first_case["linked_cases"]]
    assert reported["entry"]["action"] == "report_order_breach"
    assert reported["entry"]["rules"] == ["P9.5"]

    async def linked_case_opened() -> Any:  # the child workflow starts asynchronously
        response = await api.get(f"/cases/{breach_ref}", headers=auth(OFFICER))
        return response.json() if response.status_code == 200 else None

    breach_case = await eventually(linked_case_opened)
    assert breach_case["reference"] == breach_ref and breach_case["state"] == "investigation"
    assert [link["reference"] for link in breach_case["linked_cases"]] == [first.reference]
    assert breach_case["linked_cases"][0]["relation"] == "breach of"
    assert [c["offence"] for c in breach_case["candidate_offences"]] == [BREACH, *new_offences]
    assert [s["suspect_id"] for s in breach_case["suspects"]] == ["S1"]
    opened = (await api.get(f"/cases/{breach_ref}/history", headers=auth(OFFICER))).json()[0]
    assert opened["action"] == "open_case" and f"breach of {first.reference}" in opened["summary"]
    assert opened["actor"]["role"] == OFFICER  # the officer who reported the breach
    return breach_case, Handler(api, auth, breach_ref)


async def test_case_study_1_stalking_and_breach_two_victims_g_1_g_2_g_3_g_4_p9_5(api, auth) -> None:
    """Case study 1: convicted of stalking V1 in 2020 with an indefinite order; seen at a
    prohibited location; meanwhile stalking V2 (emails, calls, sign-ups). Charged stalking and
    breach (G.1, most serious first G.2), guilty pleas; the old order revoked and replaced (G.4)
    and a new indefinite order for V2; sentenced per charge, 16 months + 2 months consecutive
    (18 in custody), with the orders it revoked and made."""
    first = Handler(api, auth, new_reference("CS1"))
    assert (await first.open(stalking=True, domestic_abuse=True,
                             complainants=("V1",))).status_code == 201
    await _convict_and_order(first, "V1", [STALKING_S4A], year=2020, made_on="2020-10-15")

    # V1 sees him at a location the order prohibits: P9.5 opens the linked breach case.
    breach_ref = new_reference("CS1B")
    breach_case, breach = await _report_breach(
        api, auth, first, breach_ref,
        "V1 saw the defendant at a location the 2020 order prohibits him from entering.",
        [STALKING_S4A])
    assert breach_case["stalking"] is True and breach_case["domestic_abuse"] is True
    assert [c["complainant_id"] for c in breach_case["complainants"]] == ["V1"]
    first_case = await first.get()
    assert [link["reference"] for link in first_case["linked_cases"]] == [breach_ref]

    # The second victim, and the conduct before, during and after the breach (G.3).
    added = await breach.act(OFFICER, "add_complainant",
                             complainant={"complainant_id": "V2", "name": "Second Victim"})
    assert [c["complainant_id"] for c in added["case"]["complainants"]] == ["V1", "V2"]
    conduct = [
        {"when": "before", "online": True,
         "description": "After their relationship ended in 2023: multiple emails and phone "
                        "calls to V2."},
        {"when": "during", "online": False,
         "description": "Entered a location the 2020 order prohibits; seen there by V1."},
        {"when": "after", "online": True,
         "description": "Used V2's details to sign her up to newsletters, websites and "
                        "services, including counsellors and charities."},
    ]
    for item in conduct:
        recorded = await breach.act(OFFICER, "record_conduct", conduct=item)
        assert recorded["entry"]["rules"] == ["G.3"]
    assert recorded["case"]["conduct"] == conduct
    account = await breach.act(OFFICER, "record_suspect_account", answers={
        "account": "Accepted the offending on arrest.",
        "explanation": "Said it was because he loved the victims; considering harming himself."})
    assert account["case"]["suspect_account"]["account"] == "Accepted the offending on arrest."

    # P3.7: V2 has no risk assessment yet, so the referral is refused and nothing changes.
    refused = await breach.act(OFFICER, "refer_to_cps", expect=409)
    assert refused["detail"]["rule"] == "P3.7" and "V2" in refused["detail"]["message"]
    today = date.today().isoformat()
    for cid in ("V1", "V2"):
        await breach.act(OFFICER, "record_risk_assessment", complainant_id=cid,
                         assessment=_risk("high", today, tool="S-DASH"))
    await breach.act(OFFICER, "record_multi_agency_referral", marac_considered=True,
                     mappa_considered=True, outcome="Both victims referred to MARAC.")
    referred = await breach.act(OFFICER, "refer_to_cps")
    assert referred["state"] == "referral"
    assert (await breach.act(PROSECUTOR, "begin_charging_review"))["state"] == "charging"
    await breach.act(PROSECUTOR, "record_history_considered", history={
        "previous_convictions": f"2020 stalking of V1 ({first.reference})",
        "intelligence": "none further", "order_breaches": f"{first.reference}-RO1 breached",
        "bad_character": "application to be made", "other_force_areas": "checked"})

    # G.1: the breach alone, while stalking is recorded on the case, is refused.
    before = await breach.get()
    refused = await breach.act(PROSECUTOR, "make_charging_decision", expect=409,
                               charges=[BREACH], no_further_work=True, action_plan=[],
                               reasons="Breach of the order proved by V1's account.")
    assert refused["detail"]["rule"] == "G.1"
    assert "breach_only_reasons" in refused["detail"]["message"]
    after = await breach.get()
    assert after["version"] == before["version"] and after["state"] == "charging"
    assert after["charges"] == [] and after["decisions"] == []

    # Both charged; G.2 lists them most serious first (s.4A: 10 years, breach: 5 years).
    charged = await breach.act(PROSECUTOR, "make_charging_decision",
                               charges=[BREACH, STALKING_S4A], no_further_work=True,
                               action_plan=[], reasons="Totality: stalking of V2 and the breach.")
    assert charged["state"] == "preparation"
    assert charged["case"]["charges"] == [STALKING_S4A, BREACH]
    assert charged["case"]["decisions"][-1]["charges"] == [STALKING_S4A, BREACH]
    assert charged["case"]["decisions"][-1]["breach_only_reasons"] is None
    assert "G.2" in charged["entry"]["rules"]

    # Guilty pleas to stalking and the breach.
    for cid in ("V1", "V2"):
        await breach.act(OFFICER, "record_vps", complainant_id=cid,
                         vps={"taken_on": today, "presentation": "read by prosecutor"})
        await breach.act(OFFICER, "record_order_views", complainant_id=cid,
                         views="Wants an indefinite order with stringent conditions.")
    indicated = await breach.act(PROSECUTOR, "indicate_guilty_plea")
    assert indicated["case"]["guilty_plea_indicated"] is True
    assert (await breach.act(PROSECUTOR, "record_first_appearance"))["state"] == "pleas"
    pleas = await breach.act(PROSECUTOR, "enter_pleas", guilty=True)
    assert pleas["case"]["verdict"] == "convicted" and pleas["state"] == "pleas"

    # G.4 on the first case: the 2020 order is revoked and replaced by a new indefinite one.
    conditions = ["no contact, direct or indirect", "not to enter the prohibited locations",
                  "not to contact V1 through any online service"]
    replaced = await first.act(PROSECUTOR, "revoke_and_replace_order",
                               revoke_order_id=f"{first.reference}-RO1", replacements=[
                                   {"protected_person_id": "V1", "conditions": conditions,
                                    "made_on": "2024-02-20"}])
    old, new = replaced["case"]["orders"]
    assert old["order_id"] == f"{first.reference}-RO1" and old["revoked_at"] is not None
    assert new["order_id"] == f"{first.reference}-RO2"
    assert new["replaces"] == old["order_id"] and new["revoked_at"] is None
    assert new["protected_person_id"] == "V1" and new["expires_on"] is None
    assert new["conditions"] == conditions
    assert replaced["entry"]["rules"] == ["G.4"]
    # The revoked order can no longer be breached.
    refused = await first.act(OFFICER, "report_order_breach", expect=409,
                              order_id=old["order_id"], breach_reference=new_reference("CS1X"))
    assert refused["detail"]["rule"] == "LIFECYCLE"

    # On the breach case, a new indefinite order for V2.
    await breach.act(OFFICER, "reverify_order_details", note="V2's addresses confirmed.")
    applied = await breach.act(PROSECUTOR, "apply_restraining_order", form="MG3", mg5_served=True,
                               draft=[{"protected_person_id": "V2",
                                       "prohibitions": ["no contact", "no sign-ups in V2's name"]}])
    assert applied["state"] == "restraining_order"
    made = await breach.act(PROSECUTOR, "make_restraining_order", orders=[{
        "protected_person_id": "V2", "made_on": "2024-02-20",
        "conditions": ["no contact, direct or indirect",
                       "not to register V2 with any service or publication"]}])
    [v2_order] = made["case"]["orders"]
    assert v2_order["order_id"] == f"{breach_ref}-RO1" and v2_order["protected_person_id"] == "V2"
    assert v2_order["expires_on"] is None and v2_order["revoked_at"] is None
    assert v2_order["replaces"] is None

    # Sentenced (Liverpool Crown Court, February 2024): 16 months for stalking and two months
    # consecutive for the breach; the 2020 order revoked and new indefinite orders for both.
    sentence = "16 months' imprisonment for stalking and two months consecutive for the breach"
    sentenced = await breach.act(
        PROSECUTOR, "record_sentence", sentence=sentence, sentenced_on="2024-02-20",
        charges=[{"offence": STALKING_S4A, "kind": "custodial", "months": 16},
                 {"offence": BREACH, "kind": "custodial", "months": 2,
                  "consecutive_to": STALKING_S4A}],
        orders=[new["order_id"], v2_order["order_id"]], orders_revoked=[old["order_id"]],
        reasons="Disregard of the order and serious, persistent stalking of another victim: "
                "highest culpability.")
    sentencing = sentenced["case"]["sentencing"]
    assert sentenced["case"]["sentence"] == sentencing["summary"] == sentence
    terms = {c["offence"]: (c["kind"], c["months"], c["consecutive_to"], c["concurrent_with"])
             for c in sentencing["charges"]}
    assert terms == {STALKING_S4A: ("custodial", 16, None, None),
                     BREACH: ("custodial", 2, STALKING_S4A, None)}
    assert sentencing["total_custodial_months"] == 18  # consecutive: 16 + 2
    assert sentencing["sentenced_on"] == "2024-02-20"
    assert "18 months in custody in total" in sentenced["entry"]["summary"]
    # The orders the sentence names: new, indefinite, one for each victim; the old one revoked.
    assert sentencing["orders_revoked"] == [f"{first.reference}-RO1"]
    orders = {o["order_id"]: o for o in [*(await first.get())["orders"],
                                         *(await breach.get())["orders"]]}
    named = [orders[order_id] for order_id in sentencing["orders"]]
    assert [o["protected_person_id"] for o in named] == ["V1", "V2"]
    assert all(o["expires_on"] is None and o["revoked_at"] is None for o in named)
    assert [o["replaces"] for o in named] == [f"{first.reference}-RO1", None]
    assert orders[f"{first.reference}-RO1"]["revoked_at"] is not None

    # Final state of both cases, read back: the links stand both ways.
    first_case, breach_case = await first.get(), await breach.get()
    assert [o["revoked_at"] is None for o in first_case["orders"]] == [False, True]
    assert [link["reference"] for link in first_case["linked_cases"]] == [breach_ref]
    assert [link["reference"] for link in breach_case["linked_cases"]] == [first.reference]
    assert breach_case["charges"] == [STALKING_S4A, BREACH]
    assert breach_case["sentence"] == sentence and breach_case["state"] == "restraining_order"
    actions = [h["action"] for h in await breach.history()]
    assert actions.count("make_charging_decision") == 1  # the refused G.1 attempt left no trace
    assert actions.index("record_conduct") < actions.index("make_charging_decision") \
        < actions.index("enter_pleas") < actions.index("record_sentence")


async def test_case_study_2_harassment_and_breach_p3_4_p3_10_g_2_g_3_p9_5(api, auth) -> None:
    """Case study 2: an order since 2013 for a former partner; a month of messages (Feb-Mar
    2023) with threats to kill. The suspect denied until confronted with his videos (P3.4).
    Harassment is charged with the breach, so stalking is considered first (P3.10); the
    linked case inherits stalking=False from the first case, so P4.2 asks for no
    harassment_reasons. Guilty pleas; five years with two and a half years concurrent, recorded
    per charge (five years in custody), with no new order.

    The harassment charged is s.4 (fear of violence, 10 years): five years' imprisonment is
    beyond s.2's six-month maximum. s.2 is recorded among the new offences as reported."""
    first = Handler(api, auth, new_reference("CS2"))
    assert (await first.open(stalking=False, domestic_abuse=True,
                             complainants=("C1",))).status_code == 201
    await _convict_and_order(first, "C1", [HARASSMENT_S2], year=2013, made_on="2013-06-14",
                             harassment_only=True)

    breach_ref = new_reference("CS2B")
    breach_case, breach = await _report_breach(
        api, auth, first, breach_ref,
        "February to March 2023: numerous text, voice and video messages to the former partner.",
        [HARASSMENT_S2, HARASSMENT_S4])
    assert breach_case["stalking"] is False  # inherited from the first case
    first_case = await first.get()
    assert [link["reference"] for link in first_case["linked_cases"]] == [breach_ref]

    # G.3 / P3.5: the conduct, online, and the other offending it discloses.
    conduct = [
        {"when": "before", "online": False,
         "description": "A decade-long campaign of harassment since the 2013 order."},
        {"when": "during", "online": True,
         "description": "Text, voice and video messages: 76 pages of screenshots, 45 minutes "
                        "of video and audio; sexually aggressive and racist; threats to kill."},
        {"when": "during", "online": True,
         "description": "Threatened to kill himself to manipulate her into contacting him."},
    ]
    for item in conduct:
        await breach.act(OFFICER, "record_conduct", conduct=item)
    candidate = await breach.act(OFFICER, "add_candidate_offence", offence=MALICIOUS_COMMS,
                                 online=True, note="Threats to kill, racist messages",
                                 last_act_on="2023-03-20")
    case = candidate["case"]
    assert case["conduct"] == conduct
    assert [c["offence"] for c in case["candidate_offences"]] == \
        [BREACH, HARASSMENT_S2, HARASSMENT_S4, MALICIOUS_COMMS]
    assert case["last_act_on"] == "2023-03-20"

    # P3.4: the suspect's account, denial until confronted with his own videos.
    account = {"initial_account": "Denied sending the messages.",
               "when_confronted": "Admitted them when shown his own videos."}
    recorded = await breach.act(OFFICER, "record_suspect_account", answers=account)
    assert recorded["case"]["suspect_account"] == account
    assert recorded["entry"]["rules"] == ["P3.4"]

    # Threats to kill: high risk, MARAC considered, then referral and charging review.
    await breach.act(OFFICER, "record_risk_assessment", complainant_id="C1",
                     assessment=_risk("high", date.today().isoformat()))
    await breach.act(OFFICER, "record_multi_agency_referral", marac_considered=True,
                     mappa_considered=False, outcome="Referred to MARAC.")
    assert (await breach.act(OFFICER, "refer_to_cps"))["state"] == "referral"
    assert (await breach.act(PROSECUTOR, "begin_charging_review"))["state"] == "charging"

    charge: dict[str, Any] = {"charges": [BREACH, HARASSMENT_S4], "no_further_work": True, "action_plan": [],
              "reasons": "Totality: harassment gives the court greater sentencing power."}
    # P3.10: harassment without stalking is refused until stalking is considered.
    refused = await breach.act(PROSECUTOR, "make_charging_decision", expect=409, **charge)
    assert refused["detail"]["rule"] == "P3.10"
    considered = await breach.act(
        PROSECUTOR, "record_stalking_considered", decision="Harassment, not stalking",
        reasons="A barrage of threatening messages rather than fixated monitoring or "
                "following; s.4 reflects the threats to kill.")
    assert considered["case"]["stalking_considered"]["decision"] == "Harassment, not stalking"
    assert considered["entry"]["rules"] == ["P3.10"]

    # Harassment and breach charged, most serious first (G.2); no P4.2 reasons needed here.
    charged = await breach.act(PROSECUTOR, "make_charging_decision", **charge)
    assert charged["state"] == "preparation"
    assert charged["case"]["charges"] == [HARASSMENT_S4, BREACH]
    assert charged["case"]["decisions"][-1]["harassment_reasons"] is None

    # Guilty pleas to harassment and the breach; the sentence.
    await breach.act(OFFICER, "record_vps", complainant_id="C1",
                     vps={"taken_on": date.today().isoformat(), "presentation": "read by prosecutor"})
    assert (await breach.act(PROSECUTOR, "record_first_appearance"))["state"] == "pleas"
    pleas = await breach.act(PROSECUTOR, "enter_pleas", guilty=True)
    assert pleas["case"]["verdict"] == "convicted"
    # Sentenced (Liverpool Crown Court, July 2023; the guidance gives the month, the day is
    # the story's): five years for harassment, two and a half years concurrent for the breach.
    sentence = ("five years' imprisonment for harassment and two and a half years concurrent "
                "for the breach")
    culpability = "Serious and persistent breach: highest culpability category."
    sentenced = await breach.act(
        PROSECUTOR, "record_sentence", sentence=sentence, sentenced_on="2023-07-14",
        charges=[{"offence": HARASSMENT_S4, "kind": "custodial", "months": 60},
                 {"offence": BREACH, "kind": "custodial", "months": 30,
                  "concurrent_with": HARASSMENT_S4}],
        reasons=culpability)
    sentencing = sentenced["case"]["sentencing"]
    assert sentenced["case"]["sentence"] == sentencing["summary"] == sentence
    terms = {c["offence"]: (c["kind"], c["months"], c["consecutive_to"], c["concurrent_with"])
             for c in sentencing["charges"]}
    assert terms == {HARASSMENT_S4: ("custodial", 60, None, None),
                     BREACH: ("custodial", 30, None, HARASSMENT_S4)}
    assert sentencing["total_custodial_months"] == 60  # concurrent: five years in all
    assert sentencing["sentenced_on"] == "2023-07-14"
    # No new order with this sentence: the 2013 order stands (read back below).
    assert sentencing["orders"] == [] and sentencing["orders_revoked"] == []

    history = (await api.get(f"/cases/{breach_ref}/history", headers=auth(OFFICER))).json()
    entry = history[-1]
    assert entry["action"] == "record_sentence" and entry["reasons"] == culpability
    assert entry["actor"]["role"] == PROSECUTOR and entry["state_after"] == "pleas"
    actions = [h["action"] for h in history]
    assert actions[0] == "open_case"
    assert actions.index("record_suspect_account") < actions.index("record_stalking_considered") \
        < actions.index("make_charging_decision") < actions.index("enter_pleas")
    final = await breach.get()
    assert final["sentence"] == sentence and final["charges"] == [HARASSMENT_S4, BREACH]
    assert final["sentencing"] == sentencing
    assert [link["reference"] for link in final["linked_cases"]] == [first.reference]
    # The first case keeps its 2013 order in force (design card: a breach opens a new case).
    first_case = await first.get()
    assert first_case["orders"][0]["revoked_at"] is None
    assert first_case["state"] == "restraining_order"
