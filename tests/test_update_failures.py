"""How an update that failed in Temporal becomes an HTTP answer (api/errors.py): an update the
server refused before any worker applied it ("UnprocessedUpdate": its workflow task failed
while the update was in it, as when the task moves to another worker and fails there) is a 503
with the request id, sent again applying it once, never a 500; a real fault stays a 500."""

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.errors import from_update_failure
from core.temporal import unapplied

pytestmark = pytest.mark.pure


def failed(error_type: str) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("update failed", type=error_type))


def test_an_update_refused_unapplied_is_a_503_naming_its_request_id() -> None:
    error = failed("UnprocessedUpdate")
    assert unapplied(error)
    answer = from_update_failure(error, "key-7")
    assert answer.status_code == 503
    assert answer.headers is not None and answer.headers["Idempotency-Key"] == "key-7"
    assert isinstance(answer.detail, dict) and answer.detail["request_id"] == "key-7"
    assert "Idempotency-Key: key-7" in answer.detail["message"]


def test_a_fault_in_the_workflow_is_still_a_500() -> None:
    error = failed("KeyError")
    assert not unapplied(error)
    assert from_update_failure(error, "key-8").status_code == 500
