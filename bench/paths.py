"""One operation of each user-facing path, and its bare-Temporal counterpart (the floor)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from api.examples import ACTION_EXAMPLES
from bench.floor import Bump, FloorWorkflow
from bench.rawhttp import RawHttp
from core.security import issue_token
from core.settings import Settings
from models.case import Actor
from models.enums import Role

AREA = "north"
ACCEPTED_ACTION = {"action": {"kind": "record_evidence_item", **ACTION_EXAMPLES["record_evidence_item"]}}
# Refused by the workflow's Update validator (rule STATE): a new case is not yet referred.
REFUSED_ACTION = {"action": {"kind": "begin_charging_review", **ACTION_EXAMPLES["begin_charging_review"]}}


def suspect(reference: str) -> dict[str, Any]:
    """A suspect of this case alone: the P3.8 search for the same suspect finds no other case,
    as for most real cases (one shared suspect across thousands of cases is not a caseload)."""
    digest = int(hashlib.sha1(reference.encode()).hexdigest()[:8], 16)
    born = date(1950, 1, 1) + timedelta(days=digest % 18_000)
    return {"suspect_id": "S1", "name": f"Suspect {reference.replace('-', ' ')}",
            "date_of_birth": born.isoformat()}


def new_case_body(reference: str, area: str = AREA) -> dict[str, Any]:
    """What tests/api_steps.py sends: one suspect, one complainant with contact details."""
    return {
        "reference": reference, "police_area": area, "cps_area": area,
        "stalking": True, "domestic_abuse": False,
        "suspects": [suspect(reference)],
        "complainants": [{"complainant_id": "C1", "name": "Complainant C1",
                          "contact": {"address": "C1 Secret Street, Liverpool",
                                      "phone": "07700 900999"}}],
        "offences": ["pha1997_s4a"],
    }


def reference(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[tuple[str, str], dict[str, str]] = {}

    def __call__(self, role: str, area: str = AREA) -> dict[str, str]:
        key = (role, area)
        if key not in self._cache:
            actor = Actor(user_id=f"bench-{role}", role=Role(role), area=area)
            self._cache[key] = {"authorization": f"Bearer {issue_token(self._settings, actor, 600)}"}
        return self._cache[key]


@dataclass
class Api:
    """The API through one keep-alive connection."""

    http: RawHttp
    tokens: Tokens

    async def open_case(self, ref: str) -> None:
        status, body = await self.http.request("POST", "/cases", self.tokens("officer_in_case"),
                                               new_case_body(ref))
        _expect(status, 201, body)

    async def accepted_action(self, ref: str) -> dict[str, Any]:
        status, body = await self.http.request("POST", f"/cases/{ref}/actions",
                                               self.tokens("officer_in_case"), ACCEPTED_ACTION)
        _expect(status, 200, body)
        return json.loads(body)

    async def action(self, ref: str, body: dict[str, Any], key: str,
                     role: str = "officer_in_case") -> tuple[int, bytes]:
        """One action with an Idempotency-Key: the status and body, whatever they are."""
        return await self.http.request("POST", f"/cases/{ref}/actions",
                                       {**self.tokens(role), "idempotency-key": key}, body)

    async def refused_action(self, ref: str) -> None:
        status, body = await self.http.request("POST", f"/cases/{ref}/actions",
                                               self.tokens("prosecutor"), REFUSED_ACTION)
        _expect(status, 409, body)

    async def read_case(self, ref: str) -> dict[str, Any]:
        status, body = await self.http.request("GET", f"/cases/{ref}", self.tokens("officer_in_case"))
        _expect(status, 200, body)
        return json.loads(body)

    async def history(self, ref: str) -> None:
        status, body = await self.http.request("GET", f"/cases/{ref}/history",
                                               self.tokens("officer_in_case"))
        _expect(status, 200, body)

    async def get(self, path: str, role: str = "manager") -> bytes:
        status, body = await self.http.request("GET", path, self.tokens(role))
        _expect(status, 200, body)
        return body


def _expect(status: int, wanted: int, body: bytes) -> None:
    if status != wanted:
        raise RuntimeError(f"expected HTTP {wanted}, got {status}: {body[:300]!r}")


@dataclass
class Floor:
    """The same operations on the minimal FloorWorkflow, straight through the Temporal client."""

    client: Client
    task_queue: str

    async def start(self, wid: str) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(FloorWorkflow.run, 0, id=wid,
                                                task_queue=self.task_queue)

    async def start_and_wait(self, wid: str) -> None:
        """Start, then a query, which waits for the first workflow task: what POST /cases does."""
        handle = await self.start(wid)
        await handle.query(FloorWorkflow.current)

    def handle(self, wid: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(wid)

    async def accepted(self, wid: str) -> None:
        rid = uuid.uuid4().hex
        await self.handle(wid).execute_update(FloorWorkflow.bump, Bump(request_id=rid, by=1), id=rid)

    async def refused(self, wid: str) -> None:
        rid = uuid.uuid4().hex
        try:
            await self.handle(wid).execute_update(FloorWorkflow.bump, Bump(request_id=rid, by=-1),
                                                  id=rid)
        except WorkflowUpdateFailedError:
            return
        raise RuntimeError("the floor's refused update was accepted")

    async def query(self, wid: str) -> None:
        await self.handle(wid).query(FloorWorkflow.current)
