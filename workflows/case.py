"""CaseWorkflow: one durable workflow per case, id `case-<reference>`.

Handler actions arrive as the `act` Update. Its validator runs the lifecycle guards, so a
refused action is rejected before anything is written to history. Accepted actions change
the case file at once and answer with a small result (version, state, the new history entry,
the deadlines it opened or met); everything slow happens afterwards in the main loop:
projecting to the read model, starting linked cases, and the deadline timers (reminders
before a deadline, escalation after it), so the caller never waits for them.

The state is bounded by what the guards and deadlines read, whatever the case has been
through: the case file keeps the latest of each growing record (workflows/retention.py), and
the history log lives in the read model. The workflow holds only the entries not yet
confirmed there (`_unprojected`) and the latest request ids it applied (`_applied`), and
carries both over at continue-as-new, which happens as soon as Temporal suggests it, even
while actions keep arriving. A retried request id is answered with its first answer in any run.

The API writes each entry to the read model from the answer; the workflow's own projection is
the durable backstop: one timer, started by the first action not yet projected, after which
the loop writes whatever the read model lacks. (Cases started without a backstop period
project after every action, as they always did.)
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
        LinkCases,
        NewCase,
        OrderBreachReport,
        ProjectionInput,
        Refusal,
        SystemAction,
    )
    from models.case import Actor, CaseFile, HistoryEntry, case_facts
    from models.deadlines import Deadline, DeadlineMarks
    from models.enums import CaseState, Outcome, Role
    from models.linking import LinkQuery
    from models.notifications import Notification
    from workflows import activity_contracts as contracts
    from workflows import lifecycle, metrics, search
    from workflows.breach import breach_case
    from workflows.calendar import LONDON, at_local
    from workflows.deadlines import open_deadlines
    from workflows.messages import DEADLINE_STEPS

REFUSAL_ERROR_TYPE = "ProtocolRefusal"
# The read model has been unreachable so long that the entries waiting for it reached
# UNPROJECTED_LIMIT: actions are refused as busy (503) until it is back, never dropped.
BUSY_ERROR_TYPE = "ReadModelBehind"
UNPROJECTED_LIMIT = 500
UNPROJECTED_LIMIT_CHARS = 1_000_000
# What may travel on at continue-as-new; more is projected first (a payload stays small).
CARRY_OVER_CHARS = 100_000
# Entries waiting for the read model past this many are written at once, backstop or not.
PROJECT_AT_ONCE = 100
# One projection activity carries at most this much history text (payload size, not count).
PROJECTION_CHUNK_CHARS = 64_000
# Request ids remembered across runs; older ones are found in the read model by the API.
APPLIED_MEMORY = 1000
# Temporal accepts at most 2,000 distinct updates in one run: continue as new well before.
UPDATES_PER_RUN = 1000
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


def case_workflow_id(reference: str) -> str:
    return f"case-{reference}"


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseWorkflowInput) -> None:
        # The case is built here so that an update arriving with the start already sees it.
        self._pending_linked_cases: list[NewCase] = list(start.pending_linked_cases)
        self._index = start.index_search_attributes
        self._max_history_events = start.max_history_events
        self._projected_version = 0
        self._projected_marks: tuple[object, ...] = ()
        self._indexed: tuple[object, ...] = ()
        self._backstop_seconds = start.projection_backstop_seconds
        self._backstop_armed = False  # a backstop timer is running
        self._backstop_due = False  # it has fired: the loop projects
        self._armed_wake: datetime | None = None  # when the loop's own timer fires
        self._bounded = start.bounded_runs
        self._updates_this_run = 0
        self._move_requested = False  # an operator asked it onto bounded runs
        self._unprojected: list[HistoryEntry] = list(start.unprojected)
        self._applied: dict[str, int] = dict(start.applied_requests)
        if start.carried_over is not None:
            self._case = start.carried_over
        else:
            assert start.new_case is not None
            opened = lifecycle.open_case(start.new_case, workflow.now())
            self._case = opened.case
            self._unprojected.append(opened.entry)
            if start.policy is not None:
                self._case.policy = start.policy
        # Deadlines counted in days on working days: runs recorded before keep calendar days.
        self._case.policy.day_deadlines_on_working_days = workflow.patched("working-day-deadlines")
        # The case team's police SPOC meets P6.4's named SPOC: runs recorded before, not.
        self._case.policy.team_spoc_is_named_spoc = workflow.patched("team-spoc-is-named-spoc")
        if self._bounded and start.carried_over is not None:
            # The run before projected everything but what it carried over.
            self._projected_version = (self._unprojected[0].version - 1 if self._unprojected
                                       else self._case.version)
        # P3.8 (AUTO): search for the same suspect on creation (and referral, charging review).
        self._link_search_due = start.carried_over is None or start.link_search_due
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
            if (self._history_too_long() or self._move_requested) \
                    and (self._bounded or self._idle()):
                # Every handler has run to its end (they are synchronous), so nothing accepted
                # is left behind; what is not yet projected travels on, kept small.
                while self._bounded and _chars(self._unprojected) > CARRY_OVER_CHARS:
                    await self._project()
                await self._start_linked_cases()
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
        self._updates_this_run += 1
        if request.request_id in self._applied:
            return self._first_answer(request.request_id)
        # The validator has just passed it in this same task. On replay the validator does not
        # run and the action was accepted when recorded: guards added since must not refuse it.
        if not workflow.unsafe.is_replaying():
            refusal = lifecycle.check(self.case, request, workflow.now())
            if refusal is not None:
                raise _refusal_error(refusal)
        before = {d.deadline_id for d in self.case.deadlines}
        applied = lifecycle.apply(self.case, request, workflow.now(), bounded=self._bounded)
        self._case = applied.case
        self._record(applied.entry)
        self._after_action(request)
        self._refresh_deadlines()
        self._arm_projection_backstop()
        after = {d.deadline_id for d in self.case.deadlines}
        # The caller sent the reasons and the action: the answer leaves them out.
        return self._answer(applied.entry.model_copy(update={"reasons": None, "detail": None}),
                            opened=[d for d in self.case.deadlines if d.deadline_id not in before],
                            met=sorted(before - after))

    @act.validator
    def validate_act(self, request: ActionRequest) -> None:
        if request.request_id in self._applied:
            return  # a retry of an applied request: answered with its first answer
        if self._bounded and (len(self._unprojected) >= UNPROJECTED_LIMIT
                              or _chars(self._unprojected) >= UNPROJECTED_LIMIT_CHARS):
            raise ApplicationError(
                "The case's history is waiting for the read model; try again shortly.",
                type=BUSY_ERROR_TYPE, non_retryable=True)
        refusal = lifecycle.check(self.case, request, workflow.now())
        if refusal is not None:
            raise _refusal_error(refusal)

    @workflow.query(name="case")
    def snapshot(self) -> CaseFile:
        return self.case

    @workflow.signal(name="continue_as_new")
    def continue_as_new_now(self) -> None:
        """`cases-admin continue-cases-as-new`: continue as new at the next idle moment. A run
        started before bounded runs existed moves onto them this way (docs/versioning.md)."""
        self._move_requested = True

    @workflow.query(name="unprojected")
    def unprojected(self) -> list[HistoryEntry]:
        """History entries not yet confirmed in the read model (read-your-writes)."""
        return self._unprojected

    def _answer(self, entry: HistoryEntry | None, opened: list[Deadline] | None = None,
                met: list[str] | None = None, repeated: bool = False) -> ActionResult:
        case = self.case
        return ActionResult(
            version=entry.version if entry else case.version,
            state=entry.state_after if entry else case.state, facts=case_facts(case),
            entry=entry, deadlines_opened=opened or [], deadlines_met=met or [],
            repeated=repeated)

    def _first_answer(self, request_id: str) -> ActionResult:
        version = self._applied[request_id]
        entry = next((e for e in self._unprojected if e.version == version), None)
        result = self._answer(entry, repeated=True)
        # Projected already: the API reads the entry of that version from the read model.
        return result if entry else result.model_copy(update={"version": version})

    def _record(self, entry: HistoryEntry) -> None:
        """Keep a new history entry until the read model has it, and its request id."""
        self._unprojected.append(entry)
        if entry.request_id is None:
            return
        self._applied[entry.request_id] = entry.version
        # Forget the oldest ids only once projected: the API finds those in the read model.
        while len(self._applied) > APPLIED_MEMORY:
            oldest, version = next(iter(self._applied.items()))
            if version > self._projected_version:
                break
            del self._applied[oldest]

    def _apply_system(self, action: SystemAction, now: datetime) -> None:
        """One of the service's own actions (links found, an escalation), through the
        lifecycle as any other: a new version, when it changes anything."""
        applied = lifecycle.apply_system(self.case, action, self._system_actor(), now,
                                         bounded=self._bounded)
        if applied is not None:
            self._case = applied.case
            self._record(applied.entry)

    def _after_action(self, request: ActionRequest) -> None:
        action = request.action
        if action.kind in LINK_SEARCH_AFTER:
            self._link_search_due = True
        if isinstance(action, OrderBreachReport):
            # P9.5 (AUTO): the breach opens its own linked case, its own workflow.
            self._pending_linked_cases.append(breach_case(self.case, action, request.actor))

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
        if self._move_requested:
            return True
        if self._backstop_seconds is None:
            return not self._idle()
        if self._pending_linked_cases or self._backstop_due:
            return True
        if self._bounded and (len(self._unprojected) >= PROJECT_AT_ONCE
                              or self._history_too_long()):
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
                contracts.find_linked_cases, LinkQuery(reference=self.case.reference,
                                               police_area=self.case.police_area,
                                               suspects=self.case.suspects),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=LINK_SEARCH_RETRY)
        except ActivityError:
            self._link_search_retry_at = now + RETRY_FAILED_DELIVERY_AFTER
            return
        self._link_search_due, self._link_search_retry_at = False, None
        self._apply_system(LinkCases(matches=matches), now)

    async def _project(self) -> None:
        # Bounded runs project what is there once per turn of the loop: under a stream of
        # actions a loop until caught up would never reach continue-as-new.
        passes = 1 if self._bounded else None
        while (self._projected_version < self.case.version or self._marks_changed()) \
                and (passes is None or passes > 0):
            passes = None if passes is None else passes - 1
            snapshot, marks = self.case, self._marks_key()
            met = {k: m.met_at for k, m in snapshot.deadline_marks.items() if m.met_at}
            entries = [e for e in self._unprojected if e.version <= snapshot.version]
            if self._bounded:
                await self._project_missing(snapshot, entries)
            else:  # one activity per projection, as runs before bounded runs recorded it
                await self._project_activity(ProjectionInput(
                    reference=snapshot.reference, entries=entries, case=snapshot))
            self._projected_version, self._projected_marks = snapshot.version, marks
            self._unprojected = [e for e in self._unprojected if e.version > snapshot.version]
            if self._bounded:
                self._forget_met_marks(met)

    async def _project_missing(self, snapshot: CaseFile, entries: list[HistoryEntry]) -> None:
        """Write the entries the read model lacks, in chunks of bounded size, the last with the
        case's facts. Only an entry with a request id can have been written by the API from
        its answer: those are checked first (the API writes most of them)."""
        answered = [e.model_copy(update={"reasons": None, "detail": None})
                    for e in entries if e.request_id]
        missing: set[int] = set()
        if answered:
            missing = set(await workflow.execute_activity(
                contracts.history_versions_missing,
                ProjectionInput(reference=snapshot.reference, entries=answered),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY))
        chunks = _chunks([e for e in entries if not e.request_id or e.version in missing])
        for chunk in chunks[:-1]:
            await self._project_activity(ProjectionInput(reference=snapshot.reference,
                                                         entries=chunk))
        await self._project_activity(ProjectionInput(
            reference=snapshot.reference, entries=chunks[-1] if chunks else [], case=snapshot))

    async def _project_activity(self, projection: ProjectionInput) -> None:
        await workflow.execute_activity(
            contracts.project_case, projection, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PROJECTION_RETRY)

    def _forget_met_marks(self, projected: dict[str, datetime]) -> None:
        """Marks the read model now holds as met need not be kept (those met since the
        snapshot wait for the next projection)."""
        marks = self.case.deadline_marks
        for deadline_id, met_at in projected.items():
            mark = marks.get(deadline_id)
            if mark is not None and mark.met_at == met_at:
                del marks[deadline_id]
        self._projected_marks = self._marks_key()

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
            info.get_current_history_length() > self._max_history_events or \
            (self._bounded and self._updates_this_run >= UPDATES_PER_RUN)

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
            applied = lifecycle.apply(case, ActionRequest(
                request_id=f"order-expiry-{case.version}", actor=self._system_actor(),
                action=CloseCase(outcome=Outcome.ORDER_EXPIRED)), now, bounded=self._bounded)
            self._case = applied.case
            self._record(applied.entry)

    def _next_wake(self) -> datetime | None:
        times: list[datetime] = []
        for d in self.case.deadlines:
            mark = self.case.deadline_marks[d.deadline_id]
            step = next((s for s in DEADLINE_STEPS if getattr(mark, s.mark) is None), None)
            if step is not None:
                times.append(step.at(d))
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
            for step in DEADLINE_STEPS:
                if getattr(mark, step.mark) is not None or now < step.at(deadline):
                    continue
                delivered = await self._deliver(step.messages(self.case, deadline), mark,
                                                deadline_id, fresh)
                mark = self._mark_after_await(mark, deadline_id, fresh)
                if delivered:
                    setattr(mark, step.mark, now)
                    metrics.deadline_event(step.event, deadline_id)
                    if step.record is not None:
                        self._apply_system(step.record(deadline), now)
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
                contracts.send_notification, n, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=NOTIFY_RETRY) for n in notifications))
        except ActivityError as err:
            self._mark_after_await(mark, deadline_id, fresh).failing = str(err.cause or err)[:300]
            return False
        self._mark_after_await(mark, deadline_id, fresh).failing = None
        return True

    def _system_actor(self) -> Actor:
        return Actor(user_id="service", role=Role.SYSTEM, area=self.case.police_area)

    def _carry_over(self) -> CaseWorkflowInput:
        case = self.case.model_copy(deep=True)
        if not self._bounded:  # it continued only when idle: met marks were projected
            case.deadline_marks = {k: v for k, v in case.deadline_marks.items()
                                   if v.met_at is None}
        # Every run after this one is bounded: a new run has no recorded history to keep to.
        return CaseWorkflowInput(carried_over=case, index_search_attributes=self._index,
                                 max_history_events=self._max_history_events,
                                 projection_backstop_seconds=self._backstop_seconds,
                                 bounded_runs=True, unprojected=self._unprojected,
                                 applied_requests=self._applied,
                                 pending_linked_cases=self._pending_linked_cases,
                                 link_search_due=self._link_search_due)

    def _upsert_search_attributes(self) -> None:
        case = self.case
        facts = case_facts(case)  # next deadline and overdue as the read model has them
        next_due, overdue = facts.next_deadline, facts.overdue
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


def _chars(entries: list[HistoryEntry]) -> int:
    """About how much text the entries hold (their size as a payload)."""
    return sum(len(e.summary) + len(e.reasons or "") + len(e.detail or "") + 300
               for e in entries)


def _chunks(entries: list[HistoryEntry]) -> list[list[HistoryEntry]]:
    """Entries in runs of at most PROJECTION_CHUNK_CHARS of text (at least one each)."""
    chunks: list[list[HistoryEntry]] = []
    size = 0
    for entry in entries:
        length = _chars([entry])
        if not chunks or size + length > PROJECTION_CHUNK_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += length
    return chunks


def _refusal_error(refusal: Refusal) -> ApplicationError:
    return ApplicationError(f"{refusal.rule}: {refusal.message}", refusal.model_dump(),
                            type=REFUSAL_ERROR_TYPE, non_retryable=True)
