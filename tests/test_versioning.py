"""The versioning policy (docs/versioning.md), shown on a real change to a step of CaseWorkflow.

The change: wait a second before projecting, a new timer, so a new command in the history.
Behind `workflow.patched`, a history recorded before the change (tests/histories/) replays;
the same change without the patch does not. Once no run predating the change is left, the
patch becomes `workflow.deprecate_patch`, and runs recorded under the patch still replay.

Each version is a subclass registered under the name "CaseWorkflow", differing only in that
step. The sandbox re-imports this module: it does nothing at import but define them.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

from workflows.case import CaseWorkflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from sqlalchemy import Engine
    from sqlmodel import Session
    from temporalio.client import WorkflowHistory
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Replayer

    import worker
    from api.examples import ACTION_EXAMPLES
    from core.settings import DEVELOPMENT_PAYLOAD_KEY, DEVELOPMENT_PAYLOAD_KEY_ID, Settings
    from core.temporal import data_converter
    from models.actions import ActionRequest, CaseWorkflowInput, NewCase
    from models.case import Actor, CaseFile
    from models.enums import Role
    from models.tables import CaseRow
    from worker import workflow_runner

PATCH = "pause-before-projection"
PAUSE = timedelta(seconds=1)
RECORDED = Path(__file__).parent / "histories" / "case-HIST-GUILTY-PLEA.json"


@workflow.defn(name="CaseWorkflow")
class PatchedCaseWorkflow(CaseWorkflow):
    """Step 1 of a change: new runs take the new path; runs that started before keep the old."""

    @workflow.run
    async def run(self, start: CaseWorkflowInput) -> CaseFile:
        return await super().run(start)

    async def _project(self) -> None:
        if self._projected_version < self.case.version and workflow.patched(PATCH):
            await workflow.sleep(PAUSE)
        await super()._project()


@workflow.defn(name="CaseWorkflow")
class UnpatchedCaseWorkflow(CaseWorkflow):
    """The same change made carelessly: running cases would fail their next workflow task."""

    @workflow.run
    async def run(self, start: CaseWorkflowInput) -> CaseFile:
        return await super().run(start)

    async def _project(self) -> None:
        if self._projected_version < self.case.version:
            await workflow.sleep(PAUSE)
        await super()._project()


@workflow.defn(name="CaseWorkflow")
class DeprecatedPatchCaseWorkflow(CaseWorkflow):
    """Step 2, once every run from before the change has closed: only the new path is left."""

    @workflow.run
    async def run(self, start: CaseWorkflowInput) -> CaseFile:
        return await super().run(start)

    async def _project(self) -> None:
        workflow.deprecate_patch(PATCH)
        if self._projected_version < self.case.version:
            await workflow.sleep(PAUSE)
        await super()._project()


def replayer(workflow_class: type, settings: Settings) -> Replayer:
    # The test server's key, and the development key that recorded tests/histories/.
    keys = settings.model_copy(update={"payload_keys": {
        **settings.payload_keys, DEVELOPMENT_PAYLOAD_KEY_ID: DEVELOPMENT_PAYLOAD_KEY}})
    return Replayer(workflows=[workflow_class], data_converter=data_converter(keys),
                    workflow_runner=workflow_runner())


def recorded_before_the_change() -> WorkflowHistory:
    return WorkflowHistory.from_json(RECORDED.name.split(".")[0], RECORDED.read_text())


async def test_a_change_behind_a_patch_replays_a_history_recorded_before_it(
        settings: Settings) -> None:
    result = await replayer(PatchedCaseWorkflow, settings).replay_workflow(
        recorded_before_the_change())
    assert result.replay_failure is None


async def test_the_same_change_without_a_patch_fails_replay_as_nondeterministic(
        settings: Settings) -> None:
    with pytest.raises(workflow.NondeterminismError, match=r"(?i)timer|activity"):
        await replayer(UnpatchedCaseWorkflow, settings).replay_workflow(
            recorded_before_the_change())


async def _run_under_the_patch(env: WorkflowEnvironment, settings: Settings, engine: Engine,
                               monkeypatch: pytest.MonkeyPatch) -> WorkflowHistory:
    """A case opened after the change shipped: it records the patch marker and the timer.

    The production worker (every activity it registers) with the patched class in place of
    CaseWorkflow: what a deploy of the change would run.
    """
    queue = f"versioning-{uuid.uuid4().hex[:8]}"
    reference = f"VER-{uuid.uuid4().hex[:8].upper()}"
    officer = Actor(user_id="officer-1", role=Role.OFFICER_IN_CASE, area="north")
    with ThreadPoolExecutor(max_workers=4) as executor:
        with monkeypatch.context() as patch:
            patch.setattr(worker, "CaseWorkflow", PatchedCaseWorkflow)
            deployed = worker.build_worker(env.client, settings, engine, executor, task_queue=queue)
        async with deployed:
            handle = await env.client.start_workflow(
                "CaseWorkflow", CaseWorkflowInput(index_search_attributes=False,
                                                  new_case=NewCase.model_validate({
                    "reference": reference, "police_area": "north", "cps_area": "north",
                    "stalking": True, "domestic_abuse": False, "offences": ["pha1997_s4a"],
                    "complainants": [{"complainant_id": "C1", "name": "Complainant One"}],
                    "opened_by": officer})),
                id=f"case-{reference}", task_queue=queue, result_type=CaseFile)
            try:
                await handle.execute_update(CaseWorkflow.act, ActionRequest(
                    request_id=str(uuid.uuid4()), actor=officer, action={
                        "kind": "record_contact_details",
                        **ACTION_EXAMPLES["record_contact_details"]}))
                version = (await handle.query(CaseWorkflow.snapshot)).version
                for _ in range(200):
                    with Session(engine) as session:
                        row = session.get(CaseRow, reference)
                    if row is not None and row.version == version:
                        return await handle.fetch_history()
                    await env.sleep(PAUSE)
                raise AssertionError("the case was not projected")
            finally:
                # Its deadline timers would otherwise wait, workerless, on the shared test server.
                await handle.terminate("versioning demonstration done")


async def test_after_deprecating_the_patch_runs_recorded_under_it_still_replay(
        skipping_env: WorkflowEnvironment, settings: Settings, engine: Engine,
        monkeypatch: pytest.MonkeyPatch) -> None:
    under_patch = await _run_under_the_patch(skipping_env, settings, engine, monkeypatch)
    markers = [e for e in under_patch.events if e.HasField("marker_recorded_event_attributes")]
    assert markers, "the new run recorded the patch marker"
    assert any(e.HasField("timer_started_event_attributes") for e in under_patch.events)

    deprecated = replayer(DeprecatedPatchCaseWorkflow, settings)
    assert (await deprecated.replay_workflow(under_patch)).replay_failure is None
    # ...which is why the patch is deprecated only once no run from before the change is left.
    with pytest.raises(workflow.NondeterminismError):
        await deprecated.replay_workflow(recorded_before_the_change())
