"""CaseWorkflow: one durable workflow per case, id `case-<reference>`.

Handler actions arrive as the `act` Update. Its validator runs the lifecycle guards, so a
refused action is rejected before anything is written to history. Accepted actions change
the case file at once and answer from it; everything slow happens afterwards in the main
loop: projecting to the read model, starting linked cases, and the deadline timers
(reminders before a deadline, escalation after it), so the caller never waits for them.

The answer carries the whole case file, so the API writes the read model from it. The
workflow's own projection is then the durable backstop: one timer, started by the first
action not yet projected, after which the loop projects whatever has accumulated. An action
therefore costs its Update and nothing more unless it moves the next deadline earlier, starts
a linked case or needs a suspect search (cases started without a backstop period project after
every action, as they always did).
"""

import asyncio
from contextlib import suppress
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.actions import (
        ActionRequest,
        ActionResult,
        CaseWorkflowInput,
        CloseCase,
        NewCase,
        Refusal,
    )
    from models.case import Actor, CaseFile, HistoryEntry, LinkedCase
    from models.deadlines import Deadline, DeadlineMarks
    from models.enums import CaseState, Outcome, Role
    from models.linking import LinkQuery, SuspectMatch
    from models.notifications import Notification
    from models.offences import Offence
    from workflows import lifecycle, metrics, search
    from workflows.calendar import LONDON, at_local
    from workflows.deadlines import open_deadlines

REFUSAL_ERROR_TYPE = "ProtocolRefusal"
PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1),
                               maximum_interval=timedelta(minutes=1))
# A failing delivery retries with backoff inside the activity; after that the deadline shows
# as failing and the workflow tries again a little later, without blocking anything else.
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=2), maximum_attempts=6,
                           non_retryable_error_types=["NoContactMeans"])
RETRY_FAILED_DELIVERY_AFTER = timedelta(minutes=15)
LINK_SEARCH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
LINK_SEARCH_AFTER = {"add_suspect", "refer_to_cps", "begin_charging_review"}
REPEAT_PERPETRATOR_CONFIDENCE = 0.9


def case_workflow_id(reference: str) -> str:
    return f"case-{reference}"


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseWorkflowInput) -> None:
        # The case is built here so that an update arriving with the start already sees it.
        self._pending_linked_cases: list[NewCase] = []
        self._index = start.index_search_attributes
        self._max_history_events = start.max_history_events
        self._projected_version = 0
        self._projected_marks: tuple[object, ...] = ()
        self._indexed: tuple[object, ...] = ()
        self._backstop_seconds = start.projection_backstop_seconds
        self._backstop_armed = False  # a backstop timer is running
        self._backstop_due = False  # it has fired: the loop projects
        self._armed_wake: datetime | None = None  # when the loop's own timer fires
        if start.carried_over is not None:
            self._case = start.carried_over
        else:
            assert start.new_case is not None
            self._case = lifecycle.open_case(start.new_case, workflow.now())
            if start.policy is not None:
                self._case.policy = start.policy
        # P3.8 (AUTO): search for the same suspect on creation (and referral, charging review).
        self._link_search_due = start.carried_over is None
        self._link_search_retry_at: datetime | None = None
        self._refresh_deadlines()

    @property
    def case(self) -> CaseFile:
        return self._case

    @workflow.run
    async def run(self, start: CaseWorkflowInput) -> CaseFile:
        while True:
            self._upsert_search_attributes()
            await self._start_linked_cases()
            await self._search_linked_cases()
            await self._project()
            self._backstop_due = False
            if self.case.state is CaseState.CLOSED and self._idle() and not self.case.deadlines:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._idle():
                    return self.case
            if self._history_too_long() and self._idle():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carry_over())
            wake = self._armed_wake = self._next_wake()
            timeout = max(wake - workflow.now(), timedelta(seconds=1)) if wake else None
            with suppress(asyncio.TimeoutError):
                await workflow.wait_condition(self._has_work, timeout=timeout)
            await self._fire_due()

    # --- actions --------------------------------------------------------------------------
    @workflow.update(name="act")
    def act(self, request: ActionRequest) -> ActionResult:
        refusal = lifecycle.check(self.case, request, workflow.now())
        if refusal is not None:  # the state moved between validation and handling
            raise _refusal_error(refusal)
        self._case = lifecycle.apply(self.case, request, workflow.now())
        self._after_action(request)
        self._refresh_deadlines()
        self._arm_projection_backstop()
        return ActionResult(case=self.case, entry_version=self.case.version)

    @act.validator
    def validate_act(self, request: ActionRequest) -> None:
        refusal = lifecycle.check(self.case, request, workflow.now())
        if refusal is not None:
            raise _refusal_error(refusal)

    @workflow.query(name="case")
    def snapshot(self) -> CaseFile:
        return self.case

    def _after_action(self, request: ActionRequest) -> None:
        action = request.action
        if action.kind in LINK_SEARCH_AFTER:
            self._link_search_due = True
        if action.kind == "report_order_breach":
            # P9.5 (AUTO): the breach opens its own linked case, its own workflow.
            self._pending_linked_cases.append(NewCase(
                reference=action.breach_reference, police_area=self.case.police_area,
                cps_area=self.case.cps_area, stalking=self.case.stalking,
                domestic_abuse=self.case.domestic_abuse, suspects=self.case.suspects,
                # A breach is a new incident: risk, VPS and views on an order are taken afresh.
                complainants=[c.model_copy(update={"risk_assessments": [], "vps": [],
                                                   "order_views": None})
                              for c in self.case.complainants],
                offences=[Offence.BREACH_OF_RESTRAINING_ORDER, *action.new_offences],
                linked_from=self.case.reference, opened_by=request.actor))

    def _arm_projection_backstop(self) -> None:
        if self._backstop_seconds is None or self._backstop_armed:
            return
        self._backstop_armed = True
        asyncio.get_running_loop().create_task(self._projection_backstop(self._backstop_seconds))

    async def _projection_backstop(self, seconds: float) -> None:
        # A timer of its own: the loop's deadline timer keeps running untouched.
        await workflow.sleep(timedelta(seconds=seconds))
        self._backstop_armed, self._backstop_due = False, True

    # --- the main loop's work -------------------------------------------------------------
    def _idle(self) -> bool:
        return self._projected_version == self.case.version and not self._pending_linked_cases

    def _has_work(self) -> bool:
        if self._link_search_due and self._link_search_retry_at is None:
            return True
        if self.case.state is CaseState.CLOSED and not self.case.deadlines:
            return True
        if self._backstop_seconds is None:
            return not self._idle()
        if self._pending_linked_cases or self._backstop_due:
            return True
        # Wake only when an action moved the next deadline earlier than the timer now set.
        wake = self._next_wake()
        return wake is not None and (self._armed_wake is None or wake < self._armed_wake)

    async def _start_linked_cases(self) -> None:
        while self._pending_linked_cases:
            new_case = self._pending_linked_cases[0]
            # The id may be taken when the linked case was opened by hand: the link stands.
            with suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    CaseWorkflow.run,
                    CaseWorkflowInput(new_case=new_case, index_search_attributes=self._index,
                                      policy=self.case.policy),
                    id=case_workflow_id(new_case.reference),
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
            self._pending_linked_cases.pop(0)

    async def _search_linked_cases(self) -> None:
        now = workflow.now()
        if not self._link_search_due or (self._link_search_retry_at and now < self._link_search_retry_at):
            return
        try:
            matches = await workflow.execute_activity(
                "find_linked_cases", LinkQuery(reference=self.case.reference,
                                               police_area=self.case.police_area,
                                               suspects=self.case.suspects),
                result_type=list[SuspectMatch], start_to_close_timeout=timedelta(seconds=30),
                retry_policy=LINK_SEARCH_RETRY)
        except ActivityError:
            self._link_search_retry_at = now + RETRY_FAILED_DELIVERY_AFTER
            return
        self._link_search_due, self._link_search_retry_at = False, None
        self._record_links(matches, now)

    def _record_links(self, matches: list[SuspectMatch], now: datetime) -> None:
        case = self.case
        known = {link.reference: link for link in case.linked_cases}
        found = []
        for m in matches:
            link = LinkedCase(
                reference=m.reference, relation="possible same suspect", area=m.police_area,
                confidence=m.confidence, reasons=m.reasons,
                history=f"{m.state}{f' ({m.outcome})' if m.outcome else ''}; charges: "
                        f"{', '.join(m.charges) or 'none'}; orders made: {m.orders_made}; "
                        f"breaches: {m.breaches}")
            if m.reference not in known:
                case.linked_cases.append(link)
                found.append(m)
            elif known[m.reference].relation == "possible same suspect":
                known[m.reference].confidence = link.confidence
                known[m.reference].history = link.history
        repeat = any(m.confidence >= REPEAT_PERPETRATOR_CONFIDENCE for m in matches)
        if not found and repeat == case.repeat_perpetrator:
            return
        case.repeat_perpetrator = repeat
        case.version += 1
        other_areas = sum(1 for m in found if m.police_area != case.police_area)
        case.history.append(HistoryEntry(
            version=case.version, at=now, actor=self._system_actor(), action="link_cases",
            summary=f"{len(found)} linked case(s) found for the suspect"
                    f"{f', {other_areas} in other areas' if other_areas else ''}"
                    f"{'; repeat perpetrator' if repeat else ''}",
            state_before=case.state, state_after=case.state, rules=["P3.8", "P4.6"]))

    async def _project(self) -> None:
        while self._projected_version < self.case.version or self._marks_changed():
            snapshot, marks = self.case, self._marks_key()
            await workflow.execute_activity(
                "project_case", snapshot, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY)
            self._projected_version, self._projected_marks = snapshot.version, marks

    def _marks_key(self) -> tuple[object, ...]:
        return tuple(sorted((k, m.reminded_at, m.escalated_at, m.met_at, m.failing)
                            for k, m in self.case.deadline_marks.items()))

    def _marks_changed(self) -> bool:
        # A reminder sent or a delivery failing changes no version, yet the managers' stuck list
        # must show a failing delivery: project the marks too. Patched for running histories.
        return self._marks_key() != self._projected_marks \
            and workflow.patched("project-deadline-marks")

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or \
            info.get_current_history_length() > self._max_history_events

    # --- deadlines ------------------------------------------------------------------------
    def _refresh_deadlines(self) -> None:
        """Open marks for new deadlines; mark as met those that are no longer open."""
        now = workflow.now()
        self._close_expired_orders(now)
        current = open_deadlines(self.case)
        marks = self.case.deadline_marks
        open_ids = {d.deadline_id for d in current}
        for deadline in current:
            if deadline.deadline_id not in marks or marks[deadline.deadline_id].met_at:
                marks[deadline.deadline_id] = DeadlineMarks(opened_at=now)
                metrics.deadline_event("opened", deadline.deadline_id)
        for deadline_id, mark in marks.items():
            if deadline_id not in open_ids and mark.met_at is None:
                mark.met_at = now
                metrics.deadline_event("met", deadline_id)
        self.case.deadlines = current

    def _close_expired_orders(self, now: datetime) -> None:
        """AUTO: the case closes when the last restraining order expires."""
        case = self.case
        if case.state is CaseState.RESTRAINING_ORDER and case.orders \
                and not case.orders_in_force(now.astimezone(LONDON).date()):
            self._case = lifecycle.apply(case, ActionRequest(
                request_id=f"order-expiry-{case.version}", actor=self._system_actor(),
                action=CloseCase(outcome=Outcome.ORDER_EXPIRED)), now)

    def _next_wake(self) -> datetime | None:
        times: list[datetime] = []
        for d in self.case.deadlines:
            mark = self.case.deadline_marks[d.deadline_id]
            if mark.reminded_at is None:
                times.append(d.remind_at)
            elif mark.escalated_at is None:
                times.append(d.due_at)
            if mark.failing:
                times.append(workflow.now() + RETRY_FAILED_DELIVERY_AFTER)
        if self._link_search_retry_at is not None:
            times.append(self._link_search_retry_at)
        if self.case.state is CaseState.RESTRAINING_ORDER:
            ends = [o.expires_on for o in self.case.orders_in_force(
                workflow.now().astimezone(LONDON).date())]
            if ends and all(ends):
                times.append(at_local(max(e for e in ends if e) + timedelta(days=1),
                                      datetime.min.time()))
        return min(times) if times else None

    async def _fire_due(self) -> None:
        now = workflow.now()
        self._refresh_deadlines()
        # An action can land while a delivery is awaited and replace the case file (apply
        # copies it): marks are looked up again after each await, or they would be lost and
        # the reminder or escalation repeated. Older runs keep their recorded behaviour.
        fresh = workflow.patched("fresh-marks-after-delivery")
        for deadline in list(self.case.deadlines):
            deadline_id = deadline.deadline_id
            mark = self.case.deadline_marks[deadline_id]
            if mark.reminded_at is None and now >= deadline.remind_at:
                delivered = await self._deliver(self._reminders(deadline), mark, deadline_id,
                                                fresh)
                mark = self._mark_after_await(mark, deadline_id, fresh)
                if delivered:
                    mark.reminded_at = now
                    metrics.deadline_event("reminded", deadline_id)
            if mark.escalated_at is None and now >= deadline.due_at:
                delivered = await self._deliver(self._escalations(deadline), mark, deadline_id,
                                                fresh)
                mark = self._mark_after_await(mark, deadline_id, fresh)
                if delivered:
                    mark.escalated_at = now
                    metrics.deadline_event("escalated", deadline_id)
                    self._record_escalation(deadline, now)
        self._refresh_deadlines()

    def _mark_after_await(self, mark: DeadlineMarks, deadline_id: str,
                          fresh: bool) -> DeadlineMarks:
        if not fresh:
            return mark
        return self.case.deadline_marks.setdefault(deadline_id, mark)

    async def _deliver(self, notifications: list[Notification], mark: DeadlineMarks,
                       deadline_id: str, fresh: bool) -> bool:
        try:
            await asyncio.gather(*(workflow.execute_activity(
                "send_notification", n, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=NOTIFY_RETRY) for n in notifications))
        except ActivityError as err:
            self._mark_after_await(mark, deadline_id, fresh).failing = str(err.cause or err)[:300]
            return False
        self._mark_after_await(mark, deadline_id, fresh).failing = None
        return True

    def _reminders(self, d: Deadline) -> list[Notification]:
        due = d.due_at.astimezone(LONDON)
        messages = [self._staff_message(d, d.owner_role, "remind",
                                        f"Due {due:%a %d %b %Y %H:%M}: {d.description}")]
        if d.kind == "hearing_reminder" and d.subject:
            person = self.case.complainant(d.subject.split("@")[0])
            contact = person.contact if person else None
            address = contact and (contact.safe_contact or contact.phone
                                   if contact.preferred_means in ("text", "telephone")
                                   else contact.email)
            if contact and contact.preferred_means and address:
                # Only by the means the complainant chose (P6.4); nothing unsafe in it.
                messages.append(Notification(
                    idempotency_key=f"{self.case.reference}:{d.deadline_id}:complainant",
                    reference=self.case.reference, area=self.case.police_area,
                    complainant_id=d.subject.split("@")[0], means=contact.preferred_means.value,
                    address=address, subject="Your court date",
                    body="You have a court date coming up. Your witness care officer will "
                         "contact you to talk about it and any support you need.",
                    deadline_id=d.deadline_id))
        return messages

    def _escalations(self, d: Deadline) -> list[Notification]:
        return [self._staff_message(d, role, "escalate", f"OVERDUE ({d.rule}): {d.description}")
                for role in d.escalate_to]

    def _staff_message(self, d: Deadline, role: Role, step: str, text: str) -> Notification:
        opened = self.case.deadline_marks[d.deadline_id].opened_at
        return Notification(
            idempotency_key=f"{self.case.reference}:{d.deadline_id}:{opened:%Y%m%dT%H%M%S}:"
                            f"{step}:{role.value}",
            reference=self.case.reference, area=self.case.police_area, audience=role,
            subject=f"{self.case.reference}: {text}"[:300], body=text, deadline_id=d.deadline_id)

    def _record_escalation(self, d: Deadline, now: datetime) -> None:
        case = self.case
        case.version += 1
        case.history.append(HistoryEntry(
            version=case.version, at=now, actor=self._system_actor(), action="escalate_deadline",
            summary=f"overdue, escalated to {', '.join(r.value for r in d.escalate_to)}: "
                    f"{d.description}",
            state_before=case.state, state_after=case.state, rules=[d.rule]))

    def _system_actor(self) -> Actor:
        return Actor(user_id="service", role=Role.SYSTEM, area=self.case.police_area)

    def _carry_over(self) -> CaseWorkflowInput:
        # Met deadlines are in the history already; only live marks travel on.
        case = self.case.model_copy(deep=True)
        case.deadline_marks = {k: v for k, v in case.deadline_marks.items() if v.met_at is None}
        return CaseWorkflowInput(carried_over=case, index_search_attributes=self._index,
                                 max_history_events=self._max_history_events,
                                 projection_backstop_seconds=self._backstop_seconds)

    def _upsert_search_attributes(self) -> None:
        case = self.case
        next_due = case.deadlines[0].due_at if case.deadlines else None
        overdue = any(case.deadline_marks[d.deadline_id].escalated_at for d in case.deadlines)
        values = (case.state, case.state_since, next_due, overdue)
        if not self._index or values == self._indexed:
            return
        self._indexed = values
        workflow.upsert_search_attributes([
            search.CASE_STATE.value_set(case.state.value),
            search.CASE_AREA.value_set(case.police_area),
            search.STATE_SINCE.value_set(case.state_since),
            search.STALKING.value_set(case.stalking),
            search.NEXT_DEADLINE.value_set(next_due) if next_due else search.NEXT_DEADLINE.value_unset(),
            search.OVERDUE.value_set(overdue),
        ])


def _refusal_error(refusal: Refusal) -> ApplicationError:
    return ApplicationError(f"{refusal.rule}: {refusal.message}", refusal.model_dump(),
                            type=REFUSAL_ERROR_TYPE, non_retryable=True)
