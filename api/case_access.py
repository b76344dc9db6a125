"""Reading one case for a user: from its workflow (always current), within the user's area."""

from temporalio.client import Client
from temporalio.service import RPCError

from api.errors import from_rpc_error, not_found
from models.case import Actor, CaseFile
from workflows.case import CaseWorkflow, case_workflow_id


def _check_area(case: CaseFile, actor: Actor) -> None:
    # Another area's case answers as if unknown: it reveals nothing, not even that it exists.
    if actor.area not in (case.police_area, case.cps_area):
        raise not_found(case.reference)


async def read_case_file(client: Client, reference: str, actor: Actor) -> CaseFile:
    handle = client.get_workflow_handle(case_workflow_id(reference))
    try:
        case = await handle.query(CaseWorkflow.snapshot)
    except RPCError as err:
        raise from_rpc_error(err, reference) from err
    _check_area(case, actor)
    return case

