"""Handler actions: one pydantic model each, joined in a union discriminated by `kind`.

Fields that a protocol GUARD checks are optional here on purpose: leaving one out is not
malformed input (422) but an action the protocol refuses (409 naming the rule).
"""

import hashlib
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.case import (
    AREA_PATTERN,
    REFERENCE_PATTERN,
    Actor,
    Bail,
    CaseFacts,
    CaseFile,
    ChargeSentence,
    Conduct,
    DraftProhibition,
    Hearing,
    HistoryConsidered,
    HistoryEntry,
    sentence_problem,
)
from models.deadlines import Deadline, DeadlinePolicy
from models.enums import (
    CaseState,
    ChargingDecisionKind,
    ChargingTest,
    Form,
    Outcome,
    Role,
    SpoKind,
    TeamRole,
    Verdict,
)
from models.linking import SuspectMatch
from models.offences import Offence
from models.people import (
    Complainant,
    ContactDetails,
    RiskAssessment,
    SpecialMeasuresViews,
    SupportReferral,
    Suspect,
    VictimPersonalStatement,
)

# Every piece of free text an action carries is at most this long (a field may set less):
# one action, with its reasons, stays far below Temporal's payload limit.
TEXT_LIMIT = 5000


class _Text(BaseModel):
    model_config = {"str_max_length": TEXT_LIMIT}


# The field types the actions share, each written once: text that must be given (up to the
# limit of all text, or the shorter one), a note that may be left empty, an id of an item the
# case holds, and the day an order ends (None: until further order).
Text = Annotated[str, Field(min_length=1, max_length=TEXT_LIMIT)]
ShortText = Annotated[str, Field(min_length=1, max_length=2000)]
Note = Annotated[str, Field(max_length=TEXT_LIMIT)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
UntilFurtherOrder = Annotated[date | None, Field(description="None: until further order.")]


def _kind_is_required(schema: dict[str, Any]) -> None:
    """`kind` has a default so that code can build an action without naming it, but a request
    must always name it: it is the union's discriminator, and the union refuses a body without
    it. The JSON schema (and the OpenAPI document) says so."""
    if "kind" in schema.get("properties", {}):
        required = schema.setdefault("required", [])
        if "kind" not in required:
            required.insert(0, "kind")


class _Action(_Text):
    model_config = ConfigDict(extra="forbid", str_max_length=TEXT_LIMIT,
                              json_schema_extra=_kind_is_required)


class ForComplainant(_Action):
    complainant_id: Id


# --- people and risk (§3, §6) -------------------------------------------------------------
class AddComplainant(_Action):
    kind: Literal["add_complainant"] = "add_complainant"
    complainant: Complainant


class AddSuspect(_Action):
    kind: Literal["add_suspect"] = "add_suspect"
    suspect: Suspect


class RecordRiskAssessment(ForComplainant):
    kind: Literal["record_risk_assessment"] = "record_risk_assessment"
    assessment: RiskAssessment


class RecordContactDetails(ForComplainant):
    kind: Literal["record_contact_details"] = "record_contact_details"
    contact: ContactDetails


class RecordAddressChange(ForComplainant):
    kind: Literal["record_address_change"] = "record_address_change"
    address: str = Field(min_length=1, max_length=500)


class RecordAlteredBehaviour(ForComplainant):
    kind: Literal["record_altered_behaviour"] = "record_altered_behaviour"
    answer: ShortText


class RecordSpecialMeasuresViews(ForComplainant):
    kind: Literal["record_special_measures_views"] = "record_special_measures_views"
    views: SpecialMeasuresViews


class ReferToSupportService(ForComplainant):
    kind: Literal["refer_to_support_service"] = "refer_to_support_service"
    referral: SupportReferral


class RecordVps(ForComplainant):
    kind: Literal["record_vps"] = "record_vps"
    vps: VictimPersonalStatement


class RecordOrderViews(ForComplainant):
    kind: Literal["record_order_views"] = "record_order_views"
    views: Text


class RecordComplainantInformed(ForComplainant):
    kind: Literal["record_complainant_informed"] = "record_complainant_informed"
    topic: Literal["charging_decision", "victims_right_to_review", "order_conditions",
                   "bail_decision", "hearing", "outcome"]
    means: str = Field(min_length=1, max_length=50)
    shared_with: list[str] = Field(default_factory=list)


# --- investigation (§3) -------------------------------------------------------------------
class RecordEvidenceItem(_Action):
    kind: Literal["record_evidence_item"] = "record_evidence_item"
    item: str = Field(min_length=1, max_length=200)
    note: Note = ""


class RecordSuspectAccount(_Action):
    kind: Literal["record_suspect_account"] = "record_suspect_account"
    answers: dict[str, str] = Field(min_length=1)


class AddCandidateOffence(_Action):
    kind: Literal["add_candidate_offence"] = "add_candidate_offence"
    offence: Offence
    note: Note = ""
    online: bool = False
    last_act_on: date | None = Field(
        default=None, description="The latest act in the course of conduct (MCA 1980 s.127)."
    )


class RecordStalkingConsidered(_Action):
    kind: Literal["record_stalking_considered"] = "record_stalking_considered"
    decision: ShortText
    reasons: Text


class RecordMultiAgencyReferral(_Action):
    kind: Literal["record_multi_agency_referral"] = "record_multi_agency_referral"
    marac_considered: bool
    mappa_considered: bool
    outcome: ShortText


class IssuePin(_Action):
    kind: Literal["issue_pin"] = "issue_pin"
    reasons: Text


class RecordBail(_Action):
    kind: Literal["record_bail"] = "record_bail"
    bail: Bail


class ReportBailBreach(_Action):
    """P4.13: a breach of pre-charge bail; further offences go before the prosecutor here."""

    kind: Literal["report_bail_breach"] = "report_bail_breach"
    description: Text
    further_offences: list[Offence] = Field(
        default_factory=list, description="Offences the breach may amount to (e.g. s.2A/s.4A).")


class RecordNewIncident(_Action):
    kind: Literal["record_new_incident"] = "record_new_incident"
    description: Text


# --- the case team (§6.4) ----------------------------------------------------------------
class AssignCaseTeamMember(_Action):
    """Name the person for one role of the case team, or hand the role to someone else."""

    kind: Literal["assign_case_team_member"] = "assign_case_team_member"
    role: TeamRole
    user_id: str = Field(min_length=1, max_length=100, pattern=r"^[^\s]+$",
                         description="The user's id (their sign-in name or OIDC subject).")
    reason: str | None = Field(default=None, max_length=2000,
                               description="Why: leave, a move, a new case, workload.")


# --- referral and charging (§4) -----------------------------------------------------------
class ReferToCps(_Action):
    kind: Literal["refer_to_cps"] = "refer_to_cps"
    statements: int = Field(ge=0, description="Number of statements supplied.")
    special_measures_may_be_needed: bool = False
    mg2_included: bool = False
    risk_documentation: bool = False
    early_advice: bool = False


class BeginChargingReview(_Action):
    kind: Literal["begin_charging_review"] = "begin_charging_review"


class RecordHistoryConsidered(_Action):
    kind: Literal["record_history_considered"] = "record_history_considered"
    history: HistoryConsidered


class NewActionPlanItem(_Text):
    item_id: Id
    description: Text
    due_on: date


class MakeChargingDecision(_Action):
    kind: Literal["make_charging_decision"] = "make_charging_decision"
    decision: ChargingDecisionKind
    test: ChargingTest = ChargingTest.FULL_CODE
    charges: list[Offence] = Field(default_factory=list)
    reasons: str | None = None
    action_plan: list[NewActionPlanItem] = Field(default_factory=list)
    no_further_work: bool = Field(
        default=False, description="§4.7: no action plan because no work is outstanding."
    )
    harassment_reasons: str | None = Field(
        default=None, description="§4.2: why s.2/s.4 rather than s.2A/s.4A."
    )
    breach_only_reasons: str | None = Field(
        default=None, description="G.1: why only the breach is charged."
    )
    postal_requisition: bool = False
    postal_requisition_justification: str | None = None
    further_evidence_expected: str | None = None
    further_evidence_due_on: date | None = None


class CompleteActionItem(_Action):
    kind: Literal["complete_action_item"] = "complete_action_item"
    item_id: str
    note: Note = ""


class RecordFurtherEvidence(_Action):
    kind: Literal["record_further_evidence"] = "record_further_evidence"
    note: Text


# --- case preparation (§5) ----------------------------------------------------------------
class WithdrawalStatement(_Text):
    """§5.3: every point of the complainant's written statement."""

    reasons: str | None = None
    amendment_explanation: str | None = None
    original_complaint_true: str | None = None
    pressure: str | None = None
    discussed_with: str | None = None
    civil_action: str | None = None


class OfficerReport(_Text):
    """§5.4: every point of the officer's report on a withdrawal."""

    views_on_case: str | None = None
    how_to_proceed: str | None = None
    reaction_to_compulsion: str | None = None
    safety_risks: str | None = None
    support_available: str | None = None
    support_organisation_view: str | None = None
    impact_on_complainant: str | None = None


class RecordWithdrawal(ForComplainant):
    kind: Literal["record_withdrawal"] = "record_withdrawal"
    statement: WithdrawalStatement
    officer_report: OfficerReport
    complaint_true: bool


class RecordProceedDecision(_Action):
    kind: Literal["record_proceed_decision"] = "record_proceed_decision"
    decision: Text
    reasons: Text


class RecordSafetyCheck(ForComplainant):
    kind: Literal["record_safety_check"] = "record_safety_check"
    complainant_safe: bool
    children_and_dependents_safe: bool
    sources: Text


class ApplyWitnessSummons(ForComplainant):
    kind: Literal["apply_witness_summons"] = "apply_witness_summons"
    last_resort_reason: str | None = None


class IndicateGuiltyPlea(_Action):
    kind: Literal["indicate_guilty_plea"] = "indicate_guilty_plea"


class ListHearing(_Action):
    kind: Literal["list_hearing"] = "list_hearing"
    hearing: Hearing


class RecordFirstAppearance(_Action):
    kind: Literal["record_first_appearance"] = "record_first_appearance"
    on: datetime


# --- pleas and trial (§7, §8) -------------------------------------------------------------
class RecordManagerAuthority(_Action):
    kind: Literal["record_manager_authority"] = "record_manager_authority"
    note: Text


class RecordComplainantPleaViews(_Action):
    kind: Literal["record_complainant_plea_views"] = "record_complainant_plea_views"
    views: Text


class LesserPleaReasons(_Text):
    """§7.2: the points a prosecutor must have regard to."""

    complainant_views: str | None = None
    new_evidence: str | None = None
    changed_circumstances: str | None = None
    witness_summons_public_interest: str | None = None
    strength_of_stalking_evidence: str | None = None
    defence_reasons: str | None = None
    explanation_to_complainant: str | None = None


class AcceptLesserPlea(_Action):
    kind: Literal["accept_lesser_plea"] = "accept_lesser_plea"
    charges: list[Offence] = Field(min_length=1)
    compelling_reasons: LesserPleaReasons


class EnterPleas(_Action):
    kind: Literal["enter_pleas"] = "enter_pleas"
    guilty: bool


class RecordAdvocateIntroduction(_Action):
    kind: Literal["record_advocate_introduction"] = "record_advocate_introduction"


class RecordVerdict(_Action):
    kind: Literal["record_verdict"] = "record_verdict"
    verdict: Verdict


ORDER_ID_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,39}-RO[0-9]{1,6}$"
OrderId = Annotated[str, Field(pattern=ORDER_ID_PATTERN)]


class RecordSentence(_Action):
    """The sentence: per charge (kind, term, consecutive or concurrent), and in words.

    Actions recorded before sentences were structured carry only `sentence`, the words: they
    still load, and so does a sentence recorded that way now.
    """

    kind: Literal["record_sentence"] = "record_sentence"
    sentence: str | None = Field(
        default=None, min_length=1, max_length=2000,
        description="The sentence in words: a summary, optional when charges are given.")
    charges: list[ChargeSentence] = Field(
        default_factory=list, max_length=50, description="The sentence passed for each charge.")
    sentenced_on: date | None = Field(default=None, description="The day the court sentenced.")
    orders: list[OrderId] = Field(
        default_factory=list, max_length=50,
        description="Restraining orders made with the sentence, of this case or a linked one.")
    orders_revoked: list[OrderId] = Field(
        default_factory=list, max_length=50,
        description="Restraining orders revoked with it, of this case or a linked one.")

    @model_validator(mode="after")
    def _sentenced(self) -> Self:
        if self.sentence is None and not self.charges:
            raise ValueError("Give the sentence per charge (charges), in words (sentence), "
                             "or both.")
        problem = sentence_problem(self.charges)
        if problem:
            raise ValueError(problem)
        return self


class Discontinue(_Action):
    kind: Literal["discontinue"] = "discontinue"
    reasons: Text


# --- restraining orders and breaches (§9, G) ----------------------------------------------
class ReverifyOrderDetails(_Action):
    kind: Literal["reverify_order_details"] = "reverify_order_details"
    note: Text


class ApplyRestrainingOrder(_Action):
    kind: Literal["apply_restraining_order"] = "apply_restraining_order"
    form: Form
    mg5_served: bool
    draft: list[DraftProhibition] = Field(min_length=1)


class NewOrder(_Text):
    protected_person_id: str
    conditions: list[str] = Field(min_length=1)
    made_on: date
    expires_on: UntilFurtherOrder = None


class MakeRestrainingOrder(_Action):
    kind: Literal["make_restraining_order"] = "make_restraining_order"
    orders: list[NewOrder] = Field(min_length=1)


class RevokeAndReplaceOrder(_Action):
    kind: Literal["revoke_and_replace_order"] = "revoke_and_replace_order"
    revoke_order_id: str
    replacements: list[NewOrder] = Field(default_factory=list)


class OrderBreachReport(_Action):
    """A breach of an order of the case: it opens a linked breach case (P9.5)."""

    kind: Literal["report_order_breach", "report_stalking_protection_order_breach"]
    order_id: str
    breach_reference: str = Field(pattern=REFERENCE_PATTERN)
    description: Text
    new_offences: list[Offence] = Field(default_factory=list)


class ReportOrderBreach(OrderBreachReport):
    kind: Literal["report_order_breach"] = "report_order_breach"


# --- stalking protection orders (Stalking Protection Act 2019) ----------------------------
class _SpoTerms(_Action):
    prohibitions: list[ShortText] = Field(
        default_factory=list, max_length=50)
    requirements: list[ShortText] = Field(
        default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _prohibits_or_requires(self) -> Self:
        if not self.prohibitions and not self.requirements:
            raise ValueError("A stalking protection order prohibits or requires something "
                             "(SPA 2019 s.1(2)): give prohibitions, requirements or both.")
        return self


class ApplyStalkingProtectionOrder(_SpoTerms):
    """The police apply to a magistrates' court for a full (s.1) or interim (s.5) order, with
    or without a prosecution; the prohibitions and requirements are those sought."""

    kind: Literal["apply_stalking_protection_order"] = "apply_stalking_protection_order"
    order_type: SpoKind
    applied_on: date
    court: str = Field(default="", max_length=200)
    protected_person_ids: list[str] = Field(min_length=1, max_length=50)


class MakeStalkingProtectionOrder(_SpoTerms):
    """The order the court made on an application, as made, and when it ends."""

    kind: Literal["make_stalking_protection_order"] = "make_stalking_protection_order"
    application_id: Id
    made_on: date
    ends_on: UntilFurtherOrder = None

    @model_validator(mode="after")
    def _ends_after_it_is_made(self) -> Self:
        if self.ends_on is not None and self.ends_on < self.made_on:
            raise ValueError("An order cannot end before the day it is made.")
        return self


class ReviewStalkingProtectionOrder(_Action):
    """SPA 2019 s.7: before an order ends, whether to apply to renew or vary it, or let it
    end; `renewed_until` records a renewal the court granted (its new end)."""

    kind: Literal["review_stalking_protection_order"] = "review_stalking_protection_order"
    order_id: Id
    decision: ShortText
    reasons: Text
    renewed_until: date | None = None


class ReportStalkingProtectionOrderBreach(OrderBreachReport):
    """A breach of a stalking protection order (an offence under SPA 2019 s.8), treated as a
    breach of a restraining order is: a linked breach case opens with its deadline (P9.5)."""

    kind: Literal["report_stalking_protection_order_breach"] = \
        "report_stalking_protection_order_breach"


class RecordBreachActionTaken(_Action):
    """P4.13 / P9.5: the expeditious action taken on a breach, and what was considered."""

    kind: Literal["record_breach_action_taken"] = "record_breach_action_taken"
    action_taken: ShortText
    further_offences_considered: ShortText
    threshold_test_considered: ShortText


class RecordConduct(_Action):
    kind: Literal["record_conduct"] = "record_conduct"
    conduct: Conduct


class CloseCase(_Action):
    kind: Literal["close_case"] = "close_case"
    outcome: Outcome


Action = Annotated[
    AddComplainant | AddSuspect | RecordRiskAssessment | RecordContactDetails
    | RecordAddressChange | RecordAlteredBehaviour | RecordSpecialMeasuresViews
    | ReferToSupportService | RecordVps | RecordOrderViews | RecordComplainantInformed
    | RecordEvidenceItem | RecordSuspectAccount | AddCandidateOffence | RecordStalkingConsidered
    | RecordMultiAgencyReferral | AssignCaseTeamMember | IssuePin | RecordBail
    | ReportBailBreach | RecordNewIncident
    | ReferToCps | BeginChargingReview | RecordHistoryConsidered | MakeChargingDecision
    | CompleteActionItem | RecordFurtherEvidence | RecordWithdrawal | RecordProceedDecision
    | RecordSafetyCheck | ApplyWitnessSummons | IndicateGuiltyPlea | ListHearing
    | RecordFirstAppearance | RecordManagerAuthority | RecordComplainantPleaViews
    | AcceptLesserPlea | EnterPleas | RecordAdvocateIntroduction | RecordVerdict
    | RecordSentence | Discontinue | ReverifyOrderDetails | ApplyRestrainingOrder
    | MakeRestrainingOrder | RevokeAndReplaceOrder | ReportOrderBreach | RecordBreachActionTaken
    | RecordConduct | CloseCase | ApplyStalkingProtectionOrder | MakeStalkingProtectionOrder
    | ReviewStalkingProtectionOrder | ReportStalkingProtectionOrderBreach,
    Field(discriminator="kind"),
]


# --- the service's own actions ------------------------------------------------------------
# Taken by the workflow itself (role system, which no token carries), applied through the
# lifecycle like any other action, never sent through the API.
class LinkCases(_Action):
    """P3.8 / P4.6 (AUTO): what a search for the case's suspects found in other cases."""

    kind: Literal["link_cases"] = "link_cases"
    matches: list[SuspectMatch]


class EscalateDeadline(_Action):
    """A deadline passed unmet: it was escalated to these roles."""

    kind: Literal["escalate_deadline"] = "escalate_deadline"
    deadline_id: str
    rule: str
    description: str
    escalate_to: list[Role]


SystemAction = LinkCases | EscalateDeadline


class ActionRequest(BaseModel):
    """The input of the `act` update: who does what, with an id that makes retries safe."""

    request_id: str = Field(min_length=1, max_length=100)
    actor: Actor
    action: Action
    reasons: str | None = Field(default=None, max_length=5000)
    reference: str | None = Field(
        default=None,
        description="The case it is for: the payload names its case, so the codec endpoint "
                    "shows it only to that case's areas. None in requests sent before it was.")


class Refusal(BaseModel):
    """A GUARD that refused an action: the rule id and a sentence saying what is missing."""

    rule: str
    message: str


class ActionResult(BaseModel):
    """The update's answer: small, whatever the size of the case.

    The entry leaves out the reasons and detail the caller sent (lifecycle.recorded_text gives
    them back); a repeated request id is answered with its first version, its entry when the
    workflow still holds it, and `repeated`.
    """

    version: int
    state: CaseState
    facts: CaseFacts
    entry: HistoryEntry | None = None
    deadlines_opened: list[Deadline] = Field(default_factory=list)
    deadlines_met: list[str] = Field(default_factory=list)
    repeated: bool = False


class NewCase(BaseModel):
    """The input that opens a case (POST /cases and the workflow's start argument)."""

    model_config = {"extra": "forbid"}

    reference: str = Field(pattern=REFERENCE_PATTERN)
    police_area: str = Field(pattern=AREA_PATTERN)
    cps_area: str = Field(pattern=AREA_PATTERN)
    stalking: bool
    domestic_abuse: bool
    complex: bool = False
    suspects: list[Suspect] = Field(default_factory=list)
    complainants: list[Complainant] = Field(min_length=1)
    offences: list[Offence] = Field(default_factory=list)
    linked_from: str | None = None
    opened_by: Actor | None = None

    def fingerprint(self) -> str:
        """What was sent to open the case (not who sent it): the same body again is the same
        case; another body under a reference already taken is a conflict."""
        body = self.model_dump_json(exclude={"opened_by"})
        return hashlib.sha256(body.encode()).hexdigest()

    @model_validator(mode="after")
    def _people_have_ids_of_their_own(self) -> Self:
        """Actions name complainants and suspects by id, so no two share one."""
        for field, ids in (("complainant_id", [c.complainant_id for c in self.complainants]),
                           ("suspect_id", [s.suspect_id for s in self.suspects])):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                who = field.removesuffix("_id")
                raise ValueError(
                    f"{field} {', '.join(repr(i) for i in repeated)} is given to more than one "
                    f"{who}: each {who} needs an id of their own.")
        return self


class CaseWorkflowInput(BaseModel):
    """The workflow's single argument; the file is carried over on continue-as-new."""

    new_case: NewCase | None = None
    carried_over: CaseFile | None = None
    index_search_attributes: bool = True
    policy: DeadlinePolicy | None = Field(default=None, description="The area's periods.")
    # Years-long cases continue as new well before Temporal's own limits, keeping each run's
    # history short to replay.
    max_history_events: int = 2000
    # When set, the API writes each action's projection from the Update's result, and the
    # workflow projects only as the durable backstop, this many seconds after the first action
    # not yet projected (a burst of actions shares one). None, as for cases started before
    # this existed: the workflow projects after every action.
    projection_backstop_seconds: float | None = Field(default=None, gt=0, le=3600)
    # Runs bounded under load (docs/versioning.md): continue-as-new as soon as Temporal suggests
    # it, even while actions keep arriving, and the history entries projected as soon as they
    # pile up. False for runs started before it existed; every run after a continue-as-new.
    bounded_runs: bool = False
    # Carried over at continue-as-new: history entries not yet confirmed in the read model,
    # and the latest request ids applied (id -> the version it made), so a retry is applied
    # once in any run.
    unprojected: list[HistoryEntry] = Field(default_factory=list)
    applied_requests: dict[str, int] = Field(default_factory=dict)
    # Work the loop had not done yet: linked cases to open, a suspect search due.
    pending_linked_cases: list["NewCase"] = Field(default_factory=list)
    link_search_due: bool = False


class ProjectionInput(BaseModel):
    """The projection activity's input: history entries to write once, and the case's facts."""

    reference: str
    entries: list[HistoryEntry] = Field(default_factory=list)
    case: CaseFile | None = None


ACTION_KINDS: dict[str, type[BaseModel]] = {
    model.model_fields["kind"].default: model
    for model in Action.__origin__.__args__  # type: ignore[attr-defined]
}
