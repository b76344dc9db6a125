"""The lifecycle served as data and as a Mermaid diagram."""

import re
from typing import Any

from fastapi import APIRouter, Depends

from api.auth import current_user
from api.responses import AUTHENTICATED
from workflows.lifecycle import LIFECYCLE, diagram

# Like everything but the health checks and the login, it needs a token.
router = APIRouter(tags=["lifecycle"], dependencies=[Depends(current_user)],
                   responses=AUTHENTICATED)


@router.get("/lifecycle", response_model=dict[str, Any])
def lifecycle() -> dict[str, Any]:
    """States, actions (where, by whom, leading where) and guards with their rule ids."""
    from models.enums import CaseState

    return {
        "states": [s.value for s in CaseState],
        "actions": {
            kind: {
                "states": [s.value for s in CaseState if s in spec.states],
                "roles": sorted(r.value for r in spec.roles),
                "leads_to": [s.value for s in spec.leads_to],
                "guards": [{"name": g.__name__, "rule": _rule_of(g.__name__, g.__doc__),
                            "description": (g.__doc__ or "").strip()} for g in spec.guards],
                "records": list(spec.rules),
            }
            for kind, spec in LIFECYCLE.items()
        },
        "mermaid": diagram(),
    }


def _rule_of(guard_name: str, doc: str | None = None) -> str:
    """p4_8_postal_requisition -> P4.8; g_1_... -> G.1; lifecycle_... -> LIFECYCLE; a statute's
    guard (spa_...) -> the section its docstring begins with, e.g. SPA 2019 s.3."""
    if guard_name.startswith("spa_") and (match := re.match(r"(SPA 2019 s\.\d+)", doc or "")):
        return match[1]
    if match := re.match(r"p(\d+)_(\d+)_", guard_name):
        return f"P{match[1]}.{match[2]}"
    if match := re.match(r"g_(\d+)_", guard_name):
        return f"G.{match[1]}"
    return guard_name.split("_")[0].upper()
