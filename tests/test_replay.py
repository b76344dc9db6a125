"""Every recorded case history (tests/histories/, scripts/record_histories.py) still replays
against today's CaseWorkflow: a change that would break cases already running fails here.

If this fails after a change to workflow code, do not re-record: put the change behind
workflow.patched (docs/versioning.md), so running cases keep the old path.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.settings import DEVELOPMENT_PAYLOAD_KEY, DEVELOPMENT_PAYLOAD_KEY_ID, Settings
from core.temporal import data_converter
from worker import workflow_runner
from workflows.case import CaseWorkflow

HISTORIES = Path(__file__).parent / "histories"
# The paths the recorder covers (scripts/record_histories.py); losing one loses its guard.
EXPECTED = {
    "case-HIST-NO-FURTHER-ACTION", "case-HIST-DISCONTINUED", "case-HIST-GUILTY-PLEA",
    "case-HIST-ACQUITTED", "case-HIST-ORDER-EXPIRED", "case-HIST-ORDER-BREACH",
    "case-HIST-BREACH-CASE", "case-HIST-DEADLINES", "case-HIST-CONTINUED-AS-NEW",
}


def load_histories() -> dict[str, WorkflowHistory]:
    """Each file is one run (also in subfolders, e.g. kept from an earlier release), by its
    path; its workflow id is the file name before the first dot."""
    return {str(path.relative_to(HISTORIES)): WorkflowHistory.from_json(
                path.name.split(".")[0], path.read_text())
            for path in sorted(HISTORIES.rglob("*.json"))}


def replayer() -> Replayer:
    # The histories were recorded with the public development key (Settings() default).
    settings = Settings(payload_keys={DEVELOPMENT_PAYLOAD_KEY_ID: DEVELOPMENT_PAYLOAD_KEY},
                        payload_key_id=DEVELOPMENT_PAYLOAD_KEY_ID)
    return Replayer(workflows=[CaseWorkflow], data_converter=data_converter(settings),
                    workflow_runner=workflow_runner())


def test_every_lifecycle_path_has_a_recorded_history() -> None:
    recorded = {h.workflow_id for h in load_histories().values()}
    assert recorded >= EXPECTED, f"missing: {sorted(EXPECTED - recorded)}; run `make histories`"
    runs = sorted(HISTORIES.glob("case-HIST-CONTINUED-AS-NEW.run*.json"))
    assert len(runs) >= 2, "the continued-as-new case keeps each of its runs"


async def test_recorded_histories_replay_against_the_current_workflow(
        capsys: pytest.CaptureFixture[str]) -> None:
    histories = load_histories()
    failures: dict[str, str] = {}
    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories.values():
            yield history

    async with replayer().workflow_replay_iterator(each()) as results:
        names = iter(histories)  # results come back in the order given
        async for result in results:
            name = next(names)
            if result.replay_failure is not None:
                failures[name] = repr(result.replay_failure)
    assert next(names, None) is None, "every history was replayed"
    events = sum(len(h.events) for h in histories.values())
    with capsys.disabled():
        print(f"\nreplay: {len(histories)} recorded histories, {events} events checked")
    assert not failures, "no longer replays (nondeterminism):\n" + "\n".join(
        f"{name}: {failure}" for name, failure in failures.items())
