"""Security: encrypted payloads and key rotation, the audit chain, and the UI's codec endpoint."""

import asyncio
import base64
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from core import admin
from core.audit import AuditEntry, AuditTrail, append, verify_chain
from core.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec, PayloadDecryptionError
from core.settings import DEVELOPMENT_PAYLOAD_KEY, Settings, get_settings
from core.temporal import data_converter
from models.audit import AuditRow
from models.people import Complainant
from tests.api_steps import Handler, new_case_body, new_reference
from tests.conftest import eventually
from workflows.case import case_workflow_id


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def new_key() -> str:
    return b64(os.urandom(32))


def keyed_settings(keys: dict[str, str], current: str) -> Settings:
    return Settings(payload_keys=keys, payload_key_id=current, _env_file=None)


def audit_row(engine: Engine, response: httpx.Response) -> AuditRow:
    request_id = response.headers["X-Request-ID"]
    with Session(engine) as session:
        rows = session.exec(select(AuditRow).where(AuditRow.request_id == request_id)).all()
    assert len(rows) == 1, (request_id, rows)
    return rows[0]


async def open_case_with_secrets(api: httpx.AsyncClient, auth: Any) -> tuple[str, str, str]:
    """Open a case whose complainant has a name and address found nowhere else."""
    marker = uuid.uuid4().hex[:10]
    name, address = f"Zephyrine Quillfeather-{marker}", f"{marker} Marrowgate Close, Penwortham"
    reference = new_reference("SEC")
    body = new_case_body(reference)
    body["complainants"][0]["name"] = name
    body["complainants"][0]["contact"]["address"] = address
    response = await api.post("/cases", json=body, headers=auth("officer_in_case"))
    assert response.status_code == 201, response.text
    return reference, name, address


# Payloads in Temporal


async def test_history_and_search_attributes_hold_no_personal_data(
        api: httpx.AsyncClient, auth: Any, client: Client, settings: Settings) -> None:
    reference, name, address = await open_case_with_secrets(api, auth)
    handler = Handler(api, auth, reference)
    await handler.act("officer_in_case", "record_risk_assessment",
                      reasons=f"Assessed with {name} at {address}")
    await handler.act("officer_in_case", "record_new_incident",
                      description=f"The suspect waited outside {address} for {name}")

    # What anyone with access to the Temporal server (or its database) sees: no codec.
    plain = await Client.connect(client.service_client.config.target_host,
                                 namespace=client.namespace)
    handle = plain.get_workflow_handle(case_workflow_id(reference))
    history = await handle.fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    as_json = history.to_json()
    for secret in (name, address):
        assert secret.encode() not in raw, secret
        assert secret not in as_json, secret
        assert b64(secret.encode()) not in as_json, secret

    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == ENCODING
    assert started.metadata[KEY_ID_METADATA] == settings.payload_key_id.encode()
    # The service's own converter does read it back: the test looks at the right place.
    [decoded] = await data_converter(settings).payload_codec.decode([started])  # type: ignore[union-attr]
    assert name.encode() in decoded.data and address.encode() in decoded.data

    async def described() -> Any:
        description = await handle.describe()
        return description if description.search_attributes.get("CaseArea") else None

    description = await eventually(described)
    attributes = json.dumps({k: [str(v) for v in vs]
                             for k, vs in description.search_attributes.items()})
    for secret in (name, address, name.split("-")[-1]):
        assert secret not in attributes, secret
        assert secret.encode() not in description.raw_description.SerializeToString(), secret


async def test_encrypted_payload_carries_the_current_key_id() -> None:
    settings = keyed_settings({"2026-11": new_key()}, "2026-11")
    [payload] = await data_converter(settings).encode(["Ms Secret Person"])
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID_METADATA] == b"2026-11"
    assert b"Secret Person" not in payload.SerializeToString()


async def test_payload_from_an_old_key_still_decodes_after_rotation() -> None:
    old_key, new_key_ = new_key(), new_key()
    before = data_converter(keyed_settings({"2026-10": old_key}, "2026-10"))
    after = data_converter(keyed_settings({"2026-10": old_key, "2026-11": new_key_}, "2026-11"))
    complainant = Complainant(complainant_id="C1", name="Ms Secret Person")

    written_before = await before.encode([complainant])
    assert await after.decode(written_before, [Complainant]) == [complainant]
    written_after = await after.encode([complainant])
    assert written_after[0].metadata[KEY_ID_METADATA] == b"2026-11"
    assert await after.decode(written_after, [Complainant]) == [complainant]


async def test_tampered_ciphertext_fails_to_decode() -> None:
    codec = EncryptionCodec({"k1": os.urandom(32)}, "k1")
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"secret"')])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 0x01])
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await codec.decode([tampered])


async def test_payload_relabelled_to_another_key_fails_to_decode() -> None:
    codec = EncryptionCodec({"k1": os.urandom(32), "k2": os.urandom(32)}, "k1")
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = b"k2"
    with pytest.raises(PayloadDecryptionError):
        await codec.decode([relabelled])


async def test_payload_whose_key_was_removed_names_the_missing_key() -> None:
    [sealed] = await EncryptionCodec({"gone": os.urandom(32)}, "gone").encode([Payload(data=b"x")])
    with pytest.raises(PayloadDecryptionError, match="'gone'"):
        await EncryptionCodec({"k2": os.urandom(32)}, "k2").decode([sealed])


def test_production_refuses_the_development_payload_key() -> None:
    with pytest.raises(ValueError, match="CASES_PAYLOAD_KEYS"):
        Settings(environment="production", jwt_signing_key="s" * 40,
                 _env_file=None)
    with pytest.raises(ValueError, match="CASES_PAYLOAD_KEYS"):
        Settings(environment="production", jwt_signing_key="s" * 40,
                 payload_keys={"mine": DEVELOPMENT_PAYLOAD_KEY}, payload_key_id="mine",
                 _env_file=None)
    accepted = Settings(environment="production", jwt_signing_key="s" * 40,
                        payload_keys={"2026-11": new_key()}, payload_key_id="2026-11",
                        areas=["north"], audit_key="a" * 40,
                        audit_checkpoint_path="/var/lib/cases-audit/checkpoints.jsonl",
                        _env_file=None)
    assert accepted.payload_key_id == "2026-11"


def test_payload_keys_must_be_32_bytes_and_include_the_current_id() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        keyed_settings({"short": b64(os.urandom(16))}, "short")
    with pytest.raises(ValueError, match="CASES_PAYLOAD_KEY_ID"):
        keyed_settings({"k1": new_key()}, "k2")


# The audit log


async def test_every_authenticated_request_is_audited_with_user_role_and_path(
        api: httpx.AsyncClient, auth: Any, engine: Engine) -> None:
    reference = new_reference("AUD")
    officer = auth("officer_in_case", user="pc-1234")
    opened = await api.post("/cases", json=new_case_body(reference), headers=officer)
    acted = await api.post(f"/cases/{reference}/actions", headers=officer,
                           json={"action": {"kind": "record_new_incident", "description": "calls"}})
    read = await api.get(f"/cases/{reference}", headers=officer)
    history = await api.get(f"/cases/{reference}/history", headers=officer)
    listed = await api.get("/cases", headers=auth("prosecutor", user="cps-99"))
    encoded = await api.post("/codec/encode", json={"payloads": []}, headers=officer)

    expected = [(opened, "POST", "/cases", reference, None, 201),
                (acted, "POST", f"/cases/{reference}/actions", reference, "record_new_incident", 200),
                (read, "GET", f"/cases/{reference}", reference, None, 200),
                (history, "GET", f"/cases/{reference}/history", reference, None, 200),
                (listed, "GET", "/cases", None, None, 200),
                (encoded, "POST", "/codec/encode", None, None, 200)]
    for response, method, path, ref, action, status in expected:
        row = audit_row(engine, response)
        user, role = ("cps-99", "prosecutor") if response is listed else ("pc-1234", "officer_in_case")
        assert (row.user_id, row.role, row.area) == (user, role, "north"), path
        assert (row.method, row.path, row.reference, row.action, row.status) == \
               (method, path, ref, action, status)
        assert row.at is not None and len(row.hash) == 64


async def test_unauthenticated_case_request_is_audited_without_a_user(
        api: httpx.AsyncClient, engine: Engine) -> None:
    response = await api.get("/cases/SOME-CASE")
    assert response.status_code == 401
    row = audit_row(engine, response)
    assert (row.user_id, row.role, row.path, row.status) == (None, None, "/cases/SOME-CASE", 401)


async def test_unauthenticated_request_outside_cases_is_not_audited(
        api: httpx.AsyncClient, engine: Engine) -> None:
    response = await api.get("/health")
    with Session(engine) as session:
        found = session.exec(select(AuditRow).where(
            AuditRow.request_id == response.headers["X-Request-ID"])).all()
    assert found == []


async def test_audit_rows_hold_no_personal_data(
        api: httpx.AsyncClient, auth: Any, engine: Engine) -> None:
    reference, name, address = await open_case_with_secrets(api, auth)
    with Session(engine) as session:
        rows = session.exec(select(AuditRow).where(AuditRow.reference == reference)).all()
    assert rows
    for row in rows:
        values = " ".join(str(v) for v in row.model_dump().values())
        assert name not in values and address not in values


@pytest.fixture(scope="module")
def trail(settings: Settings) -> AuditTrail:
    """The chain as the suite's API keeps it: the development key, no checkpoint file."""
    return AuditTrail.from_settings(settings)


async def test_audit_chain_verifies_after_concurrent_requests(
        api: httpx.AsyncClient, auth: Any, engine: Engine, trail: AuditTrail) -> None:
    before = verify_chain(engine, trail)
    assert before.ok, before
    responses = await asyncio.gather(*[api.get("/cases", headers=auth("prosecutor"))
                                       for _ in range(20)])
    assert all(r.status_code == 200 for r in responses)
    after = verify_chain(engine, trail)
    assert after.ok, after
    assert after.count >= before.count + 20


def load_entry(request_id: str) -> AuditEntry:
    return AuditEntry(at=datetime.now(UTC), user_id="load", role="admin", area="north",
                      method="GET", path="/cases", reference=None, action=None, status=200,
                      request_id=request_id)


def test_concurrent_appends_never_fork_the_chain(engine: Engine, trail: AuditTrail) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        rows = list(pool.map(lambda i: append(engine, load_entry(f"fork-{i}"), trail), range(60)))
    assert len({row.prev_hash for row in rows}) == 60
    check = verify_chain(engine, trail)
    assert check.ok, check


def test_altered_entry_is_named_by_verification(
        engine: Engine, trail: AuditTrail, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    victim = [append(engine, load_entry(f"tamper-{i}"), trail) for i in range(3)][1]
    assert verify_chain(engine, trail).ok

    def set_path(path: str) -> None:
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET path = :path WHERE id = :id"),
                               {"path": path, "id": victim.id})

    monkeypatch.setenv("CASES_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    set_path("/cases/SOMETHING-ELSE")
    try:
        check = verify_chain(engine, trail)
        assert not check.ok and check.broken_id == victim.id, check
        assert admin.main(["verify-audit"]) == 1
        assert f"BROKEN at audit entry id {victim.id}:" in capsys.readouterr().out
    finally:
        set_path(victim.path)
        get_settings.cache_clear()
    assert verify_chain(engine, trail).ok


def test_verify_audit_command_prints_ok_with_the_count(
        engine: Engine, trail: AuditTrail, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CASES_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    try:
        assert admin.main(["verify-audit"]) == 0
    finally:
        get_settings.cache_clear()
    count = verify_chain(engine, trail).count
    assert capsys.readouterr().out.startswith(f"OK: {count} audit entries verified")


# The codec endpoint for the Temporal UI


def wire(payload: Payload) -> dict[str, Any]:
    return {"metadata": {k: b64(v) for k, v in payload.metadata.items()}, "data": b64(payload.data)}


async def test_codec_endpoint_refuses_without_a_token(api: httpx.AsyncClient) -> None:
    body = {"payloads": [wire(Payload(metadata={"encoding": b"json/plain"}, data=b"1"))]}
    for path in ("/codec/encode", "/codec/decode"):
        response = await api.post(path, json=body)
        assert response.status_code == 401, path


async def test_codec_endpoint_round_trips_with_a_token(
        api: httpx.AsyncClient, auth: Any, settings: Settings) -> None:
    original = wire(Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "Ms Secret"}'))
    headers = auth("admin") | {"X-Namespace": "default"}  # decode is for admin and manager
    encoded = await api.post("/codec/encode", json={"payloads": [original]}, headers=headers)
    assert encoded.status_code == 200, encoded.text
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    assert base64.b64decode(sealed["metadata"][KEY_ID_METADATA]) == settings.payload_key_id.encode()
    assert b"Ms Secret" not in base64.b64decode(sealed["data"])

    decoded = await api.post("/codec/decode", json={"payloads": [sealed]}, headers=headers)
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == {"payloads": [original]}


async def test_codec_endpoint_answers_400_for_a_tampered_payload(
        api: httpx.AsyncClient, auth: Any, settings: Settings) -> None:
    [sealed] = await data_converter(settings).encode(["secret"])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 0x80])
    response = await api.post("/codec/decode", json={"payloads": [wire(sealed)]},
                              headers=auth("admin"))
    assert response.status_code == 400
    assert response.json()["detail"]["rule"] == "CODEC"


async def test_codec_endpoint_allows_the_temporal_ui_origin_only(
        api: httpx.AsyncClient, settings: Settings) -> None:
    def preflight(path: str, origin: str) -> Any:
        return api.options(path, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})

    allowed = await preflight("/codec/decode", settings.temporal_ui_url)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == settings.temporal_ui_url
    other = await preflight("/codec/decode", "https://evil.example")
    assert "access-control-allow-origin" not in other.headers
    elsewhere = await preflight("/cases", settings.temporal_ui_url)
    assert "access-control-allow-origin" not in elsewhere.headers


# Free text: no control characters (api/text.py)

CONTROL = ["\x00", "\x07", "\x08", "\x0b", "\x1b[2J", "\x7f", "\x9b"]


@pytest.mark.parametrize("control", CONTROL, ids=lambda c: f"U+{ord(c[0]):04X}")
async def test_an_action_with_a_control_character_is_refused_naming_the_field(
        control: str, api: httpx.AsyncClient, auth: Any) -> None:
    reference = new_reference("CTL")
    officer = auth("officer_in_case")
    assert (await api.post("/cases", json=new_case_body(reference), headers=officer)).status_code == 201
    url = f"/cases/{reference}/actions"
    incident = {"kind": "record_new_incident", "description": f"calls{control}overnight"}
    refused = await api.post(url, json={"action": incident}, headers=officer)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == [{
        "loc": ["body", "action", "description"], "type": "control_character",
        "msg": "Control characters are not allowed (tab, line feed and carriage return are)."}]
    assert "overnight" not in refused.text  # the value is never echoed back

    reasons = await api.post(url, headers=officer, json={
        "action": {"kind": "record_new_incident", "description": "calls"}, "reasons": f"x{control}"})
    assert reasons.status_code == 422 and reasons.json()["detail"][0]["loc"] == ["body", "reasons"]
    history = (await api.get(f"/cases/{reference}/history", headers=officer)).json()
    assert [h["action"] for h in history] == ["open_case"]


async def test_tab_line_feed_and_carriage_return_are_text(api: httpx.AsyncClient, auth: Any) -> None:
    reference = new_reference("CTL")
    officer = auth("officer_in_case")
    assert (await api.post("/cases", json=new_case_body(reference), headers=officer)).status_code == 201
    text = "Calls at night.\r\nThen messages:\n\t- 'you can't hide' ü €"
    accepted = await api.post(f"/cases/{reference}/actions", headers=officer, json={
        "action": {"kind": "record_new_incident", "description": text}, "reasons": "one\ttwo\n"})
    assert accepted.status_code == 200, accepted.text
    history = (await api.get(f"/cases/{reference}/history", headers=officer)).json()
    assert history[-1]["reasons"] == "one\ttwo\n"


@pytest.mark.parametrize("control", CONTROL, ids=lambda c: f"U+{ord(c[0]):04X}")
async def test_a_new_case_with_a_control_character_is_refused_naming_the_field(
        control: str, api: httpx.AsyncClient, auth: Any) -> None:
    reference = new_reference("CTL")
    officer = auth("officer_in_case")
    body = new_case_body(reference)
    body["complainants"][0]["name"] = f"Ms{control}Quillfeather"
    body["suspects"][0]["name"] = f"Mr{control}Suspect"
    refused = await api.post("/cases", json=body, headers=officer)
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["detail"]] == [
        ["body", "suspects", 0, "name"], ["body", "complainants", 0, "name"]]
    assert "Quillfeather" not in refused.text
    assert (await api.get(f"/cases/{reference}", headers=officer)).status_code == 404

    # A key is a string too: named escaped, and refused before the model could ignore it.
    keyed = new_case_body(reference)
    keyed["complainants"][0]["contact"]["note\x00"] = "x"
    refused = await api.post("/cases", json=keyed, headers=officer)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "complainants", 0, "contact", "note\\x00"]


# Query strings: each parameter once (api/query.py)

@pytest.mark.parametrize("path", ["/me/work", "/cases/stuck", "/cases/due-soon"])
async def test_a_query_parameter_given_twice_is_refused_naming_it(
        path: str, api: httpx.AsyncClient, auth: Any) -> None:
    manager = auth("manager")
    refused = await api.get(f"{path}?limit=5&offset=0&limit=1", headers=manager)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == [{
        "loc": ["query", "limit"], "type": "repeated_parameter",
        "msg": "Given more than once: send each query parameter once."}]
    assert (await api.get(f"{path}?limit=5&offset=0", headers=manager)).status_code == 200
