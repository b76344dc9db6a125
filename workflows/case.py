"""CaseWorkflow: one durable workflow per case, id `case-<reference>`.

Handler actions arrive as the `act` Update. Its validator runs the lifecycle guards, so a
refused action is rejected before anything is written to history. Accepted actions change
the case file at once and answer from it; projecting to the read model happens afterwards in
the main loop, so the caller never waits for the database.
"""

from contextlib import suppress
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.actions import ActionRequest, ActionResult, CaseWorkflowInput, NewCase, Refusal
    from models.case import CaseFile
    from models.enums import CaseState
    from models.offences import Offence
    from workflows import lifecycle, search

REFUSAL_ERROR_TYPE = "ProtocolRefusal"
PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1),
                               maximum_interval=timedelta(minutes=1))


def case_workflow_id(reference: str) -> str:
    return f"case-{reference}"


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseWorkflowInput) -> None:
        # The case is built here so that an update arriving with the start already sees it.
        self._pending_linked_cases: list[NewCase] = []
        self._index = start.index_search_attributes
        self._projected_version = 0
        if start.carried_over is not None:
            self._case = start.carried_over
            self._projected_version = start.carried_over.version
        else:
            assert start.new_case is not None
            self._case = lifecycle.open_case(start.new_case, workflow.now())

    @property
    def case(self) -> CaseFile:
        return self._case

    @workflow.run
    async def run(self, start: CaseWorkflowInput) -> CaseFile:
        self._upsert_search_attributes()
        while True:
            await workflow.wait_condition(self._has_work)
            await self._start_linked_cases()
            await self._project()
            if self.case.state is CaseState.CLOSED and self._idle():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._idle():
                    return self.case
            if workflow.info().is_continue_as_new_suggested() and self._idle():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(CaseWorkflowInput(
                    carried_over=self.case, index_search_attributes=self._index))

    def _idle(self) -> bool:
        return self._projected_version == self.case.version and not self._pending_linked_cases

    def _has_work(self) -> bool:
        return not self._idle() or self.case.state is CaseState.CLOSED

    @workflow.update(name="act")
    def act(self, request: ActionRequest) -> ActionResult:
        refusal = lifecycle.check(self.case, request, workflow.now())
        if refusal is not None:  # the state moved between validation and handling
            raise _refusal_error(refusal)
        self._case = lifecycle.apply(self.case, request, workflow.now())
        self._after_action(request)
        self._upsert_search_attributes()
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
        if action.kind == "report_order_breach":
            # P9.5 (AUTO): the breach opens its own linked case, its own workflow.
            self._pending_linked_cases.append(NewCase(
                reference=action.breach_reference, police_area=self.case.police_area,
                cps_area=self.case.cps_area, stalking=self.case.stalking,
                domestic_abuse=self.case.domestic_abuse, suspects=self.case.suspects,
                complainants=self.case.complainants,
                offences=[Offence.BREACH_OF_RESTRAINING_ORDER, *action.new_offences],
                linked_from=self.case.reference,
                opened_by=request.actor))

    async def _start_linked_cases(self) -> None:
        while self._pending_linked_cases:
            new_case = self._pending_linked_cases[0]
            # The id may be taken when the linked case was opened by hand: the link stands.
            with suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    CaseWorkflow.run,
                    CaseWorkflowInput(new_case=new_case, index_search_attributes=self._index),
                    id=case_workflow_id(new_case.reference),
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
            self._pending_linked_cases.pop(0)

    async def _project(self) -> None:
        while self._projected_version < self.case.version:
            snapshot = self.case
            await workflow.execute_activity(
                "project_case", snapshot,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY,
            )
            self._projected_version = snapshot.version

    def _upsert_search_attributes(self) -> None:
        if not self._index:
            return
        case = self.case
        workflow.upsert_search_attributes([
            search.CASE_STATE.value_set(case.state.value),
            search.CASE_AREA.value_set(case.police_area),
            search.STATE_SINCE.value_set(case.state_since),
            search.STALKING.value_set(case.stalking),
        ])


def _refusal_error(refusal: Refusal) -> ApplicationError:
    return ApplicationError(
        f"{refusal.rule}: {refusal.message}", refusal.model_dump(),
        type=REFUSAL_ERROR_TYPE, non_retryable=True)
