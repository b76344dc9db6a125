"""Property-based runs over the OpenAPI document: every answer is one the document promises.

Schemathesis reads the app's own OpenAPI document and generates requests for every operation,
in its two generating phases: coverage (a fixed set per operation: each parameter and field at
its bounds and just past them, every undeclared method, missing and malformed headers and
bodies) and fuzzing (random requests that fit the schema, positive, and that break it,
negative). They go through the real app, dev server, worker and database, with a valid token,
and every answer is held to every check Schemathesis has (`--checks all`): no 500; a status
code, content type, headers and body the document declares for the operation; valid data
accepted and invalid data refused (but for the rules no schema can state, below); an
undeclared method 405 with an Allow header, and OPTIONS answered with one. Every 4xx must also
say what is wrong (a JSON body with a detail). Half the generated requests that name a case
name one that exists, so the Temporal paths are exercised too, not only the 404. The tests
after the runs check deterministically what the runs once found wrong, and what no check of
Schemathesis covers here: its ignored_auth check knows API keys and HTTP auth, not this API's
OAuth2 scheme, so a request without a token is tested on its own.

The runs are bounded (COVERAGE_CASES and MAX_EXAMPLES per operation) to stay under a minute:
about 20 s on two cores, with the dev server's start.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.checks import CHECKS, CheckContext, CheckFunction, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from sqlalchemy import Engine
from temporalio.client import Client

from core.settings import Settings
from tests.api_steps import Handler, new_reference

AREA = "fuzzarea"
MAX_EXAMPLES = 20
# Coverage cases sent per operation, besides every undeclared method and request-shape probe:
# spread evenly over all of the operation's (an action's body alone has some 2,500).
COVERAGE_CASES = 20
# Roles that between them reach most branches: police open cases and act, the CPS acts; only
# an admin (or manager) gets past the decode's role check.
ROLES = ("officer_in_case", "prosecutor")
ROLE_FOR = {"/codec/decode": "admin"}
OPENAPI_DOC: dict[str, Any] = {}

load_all_checks()
# Rules no JSON schema can state, so data the schema admits may still be refused by them, with
# a 422 naming the rule: a period given both as a month and as since/until, or longer than three
# years (reports); an action naming a complainant, order or plan item the case does not hold.
RULES_BEYOND_THE_SCHEMA = {("GET", "/reports/{name}"): "INPUT",
                           ("POST", "/cases/{reference}/actions"): "INPUT"}
# The same, field by field (a 422 with a list): a model's own validator (two complainants with
# one id), and the app-wide refusal of control characters in any string (api/text.py).
ERRORS_BEYOND_THE_SCHEMA = frozenset({"value_error", "control_character"})


def refused_beyond_the_schema(case: schemathesis.Case, response: Response) -> bool:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return False
    if isinstance(detail, dict):
        return RULES_BEYOND_THE_SCHEMA.get((case.operation.method.upper(), case.operation.path)) \
            == detail.get("rule")
    return isinstance(detail, list) and bool(detail) and all(
        isinstance(e, dict) and e.get("type") in ERRORS_BEYOND_THE_SCHEMA for e in detail)


def positive_data_acceptance(ctx: CheckContext, response: Response,
                             case: schemathesis.Case) -> bool | None:
    """Schemathesis' own check, but for a 422 refusing by a rule beyond the schema: any other
    422 (a field list the schema should have foreseen: a required field it calls optional,
    a value it admits and the app does not) still fails."""
    if response.status_code == 422 and refused_beyond_the_schema(case, response):
        return None
    return checks.positive_data_acceptance(ctx, response, case)


# Every check Schemathesis registers, the same set as `schemathesis run --checks all`, with
# positive_data_acceptance as above. All are functions (a class-based check would be one that
# a plugin registered).
ALL_CHECKS: list[CheckFunction] = [
    positive_data_acceptance if check is checks.positive_data_acceptance else check
    for check in CHECKS.get_all() if not isinstance(check, type)]
assert len(ALL_CHECKS) == len(CHECKS.get_all()) and positive_data_acceptance in ALL_CHECKS


def _operations() -> list[tuple[str, str]]:
    from api.main import create_app

    doc = create_app(Settings(_env_file=None)).openapi()
    OPENAPI_DOC.update(doc)
    return [(method.upper(), path) for path, item in doc["paths"].items() for method in item]


OPERATIONS = _operations()
_SCHEMA = schemathesis.openapi.from_dict(OPENAPI_DOC)


@pytest.fixture(scope="module")
def contract_app(worker: None, client: Client, settings: Settings, engine: Engine) -> FastAPI:
    """The app under test, known to the schema too, so that a check sending a request of its
    own (ignored_auth sends one without the token, for the schemes it knows) reaches it."""
    from api.main import create_app

    app = create_app(settings, client, engine)
    _SCHEMA.app = app
    return app


@pytest.fixture(scope="module")
async def http(contract_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=contract_app),
                                 base_url="http://cases.test", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def fuzz_case(http: httpx.AsyncClient, auth: Any) -> str:
    """A real case in the fuzzing area, so generated actions reach its workflow."""
    handler = Handler(http, auth, new_reference("FUZZ"), area=AREA)
    assert (await handler.open()).status_code == 201
    return handler.reference


def _request(case: schemathesis.Case, headers: dict[str, str]) -> dict[str, Any]:
    """Schemathesis' request (requests-style keyword arguments) for httpx."""
    kwargs = case.as_transport_kwargs(base_url="http://cases.test", headers=headers)
    request: dict[str, Any] = {"method": kwargs["method"], "url": kwargs["url"],
                               "headers": kwargs.get("headers") or {},
                               "params": kwargs.get("params") or None}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), dict):
        request["data"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["content"] = kwargs["data"]
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    return request


def _prepare(case: schemathesis.Case, path: str) -> None:
    if path == "/cases" and case.method == "POST" and isinstance(case.body, dict) \
            and case.meta is not None and case.meta.generation.mode.is_positive:
        case.body["police_area"] = AREA  # else nearly every valid case is refused for its area


async def send_and_check(http: httpx.AsyncClient, case: schemathesis.Case,
                         headers: dict[str, str]) -> httpx.Response:
    """Send the case and hold the answer to every check."""
    request = _request(case, headers)
    response = await http.request(**request)
    assert response.status_code < 500, (request, response.status_code, response.text)
    if response.status_code >= 400 and response.request.method != "HEAD":
        assert response.json().get("detail"), (request, response.text)
    # In a thread: a check that sends a request of its own reaches the app through a client
    # of its own, on an event loop of its own.
    await asyncio.to_thread(case.validate_response, response, checks=ALL_CHECKS,
                            headers=headers, transport_kwargs={"headers": headers})
    return response


# The coverage phase: a fixed set of cases per operation


REQUEST_SHAPE = {"unspecified_http_method", "malformed_content_type", "unsupported_content_type",
                 "missing_parameter"}


def scenario(case: schemathesis.Case) -> str:
    data = case.meta.phase.data if case.meta is not None else None
    return str(getattr(getattr(data, "scenario", None), "value", ""))


def all_coverage_cases(method: str, path: str) -> list[schemathesis.Case]:
    operation = _SCHEMA[path][method]
    generation = _SCHEMA.config.generation_for(operation=operation, phase="coverage")
    return list(_SCHEMA.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                            generation_config=generation))


def coverage_cases(method: str, path: str) -> list[schemathesis.Case]:
    cases = all_coverage_cases(method, path)
    shape = [c for c in cases if scenario(c) in REQUEST_SHAPE]
    rest = [c for c in cases if scenario(c) not in REQUEST_SHAPE]
    step = max(1, len(rest) // COVERAGE_CASES)
    return shape + rest[::step][:COVERAGE_CASES]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_coverage_cases_get_answers_the_document_promises(
        method: str, path: str, http: httpx.AsyncClient, auth: Callable[..., dict[str, str]],
        fuzz_case: str) -> None:
    role = ROLE_FOR.get(path) or ROLES[0]
    for number, case in enumerate(coverage_cases(method, path)):
        if "{reference}" in path and number % 2 and case.meta is not None \
                and not case.meta.is_negative_at(ParameterLocation.PATH):
            case.path_parameters = {**(case.path_parameters or {}), "reference": fuzz_case}
        _prepare(case, path)
        await send_and_check(http, case, auth(role, area=AREA))


# The fuzzing phase: random requests, positive and negative


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_fuzzed_requests_get_answers_the_document_promises(
        method: str, path: str, http: httpx.AsyncClient, auth: Callable[..., dict[str, str]],
        fuzz_case: str, data: st.DataObject) -> None:
    operation = _SCHEMA[path][method]
    mode = data.draw(st.sampled_from(GenerationMode), label="mode")
    fixed = {}
    if "{reference}" in path and not data.draw(st.booleans(), label="unknown case"):
        fixed = {"reference": fuzz_case}
    case = data.draw(operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    _prepare(case, path)
    role = ROLE_FOR.get(path) or data.draw(st.sampled_from(ROLES), label="role")
    await send_and_check(http, case, auth(role, area=AREA))


# What the document says, checked deterministically: each was once found wrong by the runs above.


def admits(schema: dict[str, Any], value: Any) -> bool:
    """Whether the value is valid by a schema of the document (its references resolved)."""
    root = {**schema, "components": OPENAPI_DOC["components"]}
    return bool(jsonschema_rs.Draft202012Validator(root).is_valid(value))


def parameter_schema(method: str, path: str, name: str) -> dict[str, Any]:
    [parameter] = [p for p in OPENAPI_DOC["paths"][path][method]["parameters"] if p["name"] == name]
    return dict(parameter["schema"])


@pytest.mark.parametrize("month", ["", "2026-11", "1900-01", "2999-12", "2026-13", "2026-1",
                                   "0000-01", "9999-12", "November"])
async def test_a_month_the_document_admits_is_answered_and_one_it_refuses_is_a_422(
        month: str, http: httpx.AsyncClient, auth: Callable[..., dict[str, str]]) -> None:
    """The schema of `month` and the handler agree: `month=` was admitted by the document and
    refused by the handler (the last days of 9999 answered 500)."""
    response = await http.get("/reports/cases-by-state", params={"month": month, "format": "json"},
                              headers=auth("manager", area=AREA))
    if admits(parameter_schema("get", "/reports/{name}", "month"), month):
        assert response.status_code == 200, (month, response.text)
    else:
        assert response.status_code == 422, (month, response.text)
        assert [e["loc"] for e in response.json()["detail"]] == [["query", "month"]]


def test_every_action_in_the_document_names_its_kind() -> None:
    """`kind` is the discriminator: the document requires it of every action, as the API does."""
    body = OPENAPI_DOC["components"]["schemas"]["ActionBody"]
    union = body["properties"]["action"]
    kinds = union["discriminator"]["mapping"]
    assert len(kinds) == len(union["oneOf"]) > 40
    for kind, ref in kinds.items():
        variant = OPENAPI_DOC["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert "kind" in variant["required"], kind
    assert not admits(body, {"action": {"description": "Twenty calls overnight."}})
    assert admits(body, {"action": {"kind": "record_new_incident",
                                    "description": "Twenty calls overnight."}})


async def test_an_action_without_its_kind_is_refused_as_the_document_says(
        http: httpx.AsyncClient, auth: Callable[..., dict[str, str]], fuzz_case: str) -> None:
    response = await http.post(f"/cases/{fuzz_case}/actions",
                               json={"action": {"description": "Twenty calls overnight."}},
                               headers=auth("officer_in_case", area=AREA))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "action"] and error["type"] == "union_tag_not_found"


def test_every_operation_declares_the_answers_it_can_give() -> None:
    for method, path in OPERATIONS:
        operation = OPENAPI_DOC["paths"][path][method.lower()]
        declared = set(operation["responses"])
        expected = set()
        if operation.get("security"):
            expected |= {"401", "503"}  # no token, or a bad one; the identity provider down
        if "{reference}" in path:
            expected.add("404")  # no such case, or another area's
        if "requestBody" in operation:
            expected |= {"400", "422"}  # a body the parser cannot read; a malformed one
        assert expected <= declared, (method, path, sorted(expected - declared))


async def test_options_answers_with_the_methods_the_document_lists(
        http: httpx.AsyncClient) -> None:
    for path, item in OPENAPI_DOC["paths"].items():
        url = path.replace("{reference}", "SOME-CASE").replace("{name}", "cases-by-state")
        response = await http.options(url)
        assert response.status_code == 204, (path, response.text)
        documented = {m.upper() for m in item}
        if path == "/cases/{reference}":  # /cases/stuck is served at this path too
            documented.add("GET")
        assert set(response.headers["Allow"].split(", ")) == documented | {"OPTIONS"}, path
    refused = await http.put("/cases")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, OPTIONS, POST"


async def test_a_request_without_a_token_is_refused_as_the_document_says(
        http: httpx.AsyncClient) -> None:
    """Schemathesis' ignored_auth check knows no OAuth2 scheme, so it is done here: every
    operation that needs a token answers 401 without one, which it declares."""
    for method, path in OPERATIONS:
        if not OPENAPI_DOC["paths"][path][method.lower()].get("security"):
            continue
        case = next(c for c in all_coverage_cases(method, path)  # the first valid request
                    if c.method == method and c.meta is not None
                    and c.meta.generation.mode.is_positive)
        request = _request(case, {})
        response = await http.request(**request)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        case.validate_response(response, checks=[checks.status_code_conformance,
                                                 checks.response_schema_conformance])


# Hand-picked inputs a generator rarely finds; the first four once answered 500.

ENCRYPTED = {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==",  # binary/encrypted
             "encryption-key-id": "ZGV2ZWxvcG1lbnQ="}  # development
NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    # An offset past what SQLite or PostgreSQL can hold (OverflowError, then a 500).
    ("GET", "/cases", {"params": {"offset": 10**20}}, 422),
    # An "encrypted" payload too short to hold its nonce (AES-GCM's ValueError, then a 500).
    ("POST", "/codec/decode", {"json": {"payloads": [{"metadata": ENCRYPTED, "data": ""}]}}, 400),
    ("POST", "/codec/decode", {"json": {"payloads": [{"metadata": ENCRYPTED, "data": "AAAA"}]}}, 400),
    # A NUL in a username: PostgreSQL cannot compare such text (DataError, then a 500).
    ("POST", "/auth/token", {"data": {"username": "a\x00b", "password": "x"}}, 401),
    ("POST", "/cases", {"content": b"{not json"}, 422),
    ("POST", "/cases/NO-SUCH-CASE/actions", {"content": NESTED}, 400),
    ("GET", "/cases/NUL%00CASE", {}, 404),
], ids=["huge offset", "empty ciphertext", "short ciphertext", "NUL username", "not JSON",
        "deeply nested JSON", "NUL in a reference"])
async def test_malformed_input_is_a_4xx_that_says_why(
        method: str, url: str, kwargs: dict[str, Any], status: int, http: httpx.AsyncClient,
        auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("admin", area=AREA)
    if "content" in kwargs:
        headers["Content-Type"] = "application/json"
    response = await http.request(method, url, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail
    if url == "/codec/decode":
        assert detail == {"rule": "CODEC", "message": "A payload is truncated: too short to decrypt."}
