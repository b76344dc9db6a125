"""Bearer tokens: every bad token is refused with 401 and says why; the local login; OIDC mode.

The OIDC tests run a real JWKS endpoint (http.server on 127.0.0.1) with an RSA key made here,
and an app configured for that provider, as production runs with a real one.
"""

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.main import create_app
from core import admin
from core.security import hash_password
from core.settings import Settings, get_settings
from models.tables import StaffProfileRow, UserRow
from tests.api_steps import Handler, new_case_body, new_reference

AREA_A, AREA_B = "tokens-a", "tokens-b"
DROP: Any = object()  # a claim left out of the token


def claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    """A valid local token's claims, with some changed (or dropped, with DROP)."""
    now = int(time.time())
    base: dict[str, Any] = {"sub": "pc-tokens", "role": "officer_in_case", "area": AREA_A,
                            "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
                            "iat": now, "nbf": now, "exp": now + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


def local_token(settings: Settings, key: str | None = None, algorithm: str = "HS256",
                **changes: Any) -> str:
    return jwt.encode(claims(settings, **changes), key or settings.jwt_signing_key,
                      algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def area_auth(auth: Callable[..., dict[str, str]], area: str) -> Callable[..., dict[str, str]]:
    return lambda role, area=area, user=None: auth(role, area, user)


@pytest.fixture(scope="module")
async def case_a(api: httpx.AsyncClient, auth: Callable[..., dict[str, str]]) -> str:
    handler = Handler(api, area_auth(auth, AREA_A), new_reference("TOK"))
    assert (await handler.open(area=AREA_A)).status_code == 201
    return handler.reference


def now() -> int:
    return int(time.time())


# (what is wrong, how the token is made, what the refusal must say)
BAD_TOKENS: list[tuple[str, Callable[[Settings], str], str]] = [
    ("expired", lambda s: local_token(s, iat=now() - 7200, nbf=now() - 7200, exp=now() - 3600),
     "The token has expired."),
    ("not yet valid", lambda s: local_token(s, nbf=now() + 3600, exp=now() + 7200),
     "not valid yet"),
    ("issued in the future", lambda s: local_token(s, iat=now() + 3600, nbf=DROP, exp=now() + 7200),
     "not valid yet"),
    ("forged with another key", lambda s: local_token(s, key="not-the-service-key-" + "x" * 32),
     "signature does not verify"),
    ("wrong audience", lambda s: local_token(s, aud="some-other-service"), "audience"),
    ("wrong issuer", lambda s: local_token(s, iss="https://issuer.invalid"), "issuer"),
    *[(f"missing {claim}", (lambda c: lambda s: local_token(s, **{c: DROP}))(claim),
       f"lacks the required '{claim}' claim") for claim in ("exp", "iat", "sub", "iss", "aud")],
    ("missing role", lambda s: local_token(s, role=DROP), "role claim is missing or not valid"),
    ("missing area", lambda s: local_token(s, area=DROP), "area claim is missing or not valid"),
    ("empty subject", lambda s: local_token(s, sub=""), "sub claim is missing or not valid"),
    ("role system", lambda s: local_token(s, role="system"), "service's own role"),
    ("unknown role", lambda s: local_token(s, role="chief_constable"),
     "role claim is missing or not valid"),
    ("malformed area", lambda s: local_token(s, area="North Area; DROP TABLE"),
     "area claim is missing or not valid"),
    ("alg none", lambda s: jwt.encode(claims(s), None, algorithm="none"),  # type: ignore[arg-type]
     "signing algorithm is not accepted"),
    ("HS512 with the right key", lambda s: local_token(s, algorithm="HS512"),
     "signing algorithm is not accepted"),
    ("not a JWT", lambda s: "this-is-not-a-token", "malformed"),
    ("truncated", lambda s: local_token(s).rsplit(".", 1)[0], "malformed"),
]


@pytest.mark.parametrize(("problem", "make", "says"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512, short key
async def test_bad_token_is_refused_with_401_saying_why(
        problem: str, make: Callable[[Settings], str], says: str, api: httpx.AsyncClient,
        settings: Settings, case_a: str) -> None:
    # Every claim but the broken one would give this officer the case: only the token refuses.
    response = await api.get(f"/cases/{case_a}", headers=bearer(make(settings)))
    assert response.status_code == 401, (problem, response.text)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert says in response.json()["detail"], (problem, response.json())


async def test_the_same_claims_properly_signed_are_accepted(
        api: httpx.AsyncClient, settings: Settings, case_a: str) -> None:
    response = await api.get(f"/cases/{case_a}", headers=bearer(local_token(settings)))
    assert response.status_code == 200, response.text
    assert response.json()["reference"] == case_a


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
async def test_missing_or_non_bearer_authorization_is_refused(
        header: str, api: httpx.AsyncClient, case_a: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = await api.get(f"/cases/{case_a}", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "A bearer token is required."


async def test_a_refused_token_changes_nothing(
        api: httpx.AsyncClient, settings: Settings, auth: Callable[..., dict[str, str]],
        case_a: str) -> None:
    body = {"action": {"kind": "record_new_incident", "description": "calls overnight"}}
    forged = local_token(settings, key="forged-" + "k" * 40)
    response = await api.post(f"/cases/{case_a}/actions", json=body, headers=bearer(forged))
    assert response.status_code == 401
    history = (await api.get(f"/cases/{case_a}/history", headers=auth("manager", AREA_A))).json()
    assert "record_new_incident" not in [h["action"] for h in history]


async def test_a_token_for_area_a_cannot_act_on_or_read_area_b(
        api: httpx.AsyncClient, auth: Callable[..., dict[str, str]], case_a: str) -> None:
    other = auth("officer_in_case", AREA_B)
    body = {"action": {"kind": "record_new_incident", "description": "calls overnight"}}
    before = (await api.get(f"/cases/{case_a}", headers=auth("manager", AREA_A))).json()
    acted = await api.post(f"/cases/{case_a}/actions", json=body, headers=other)
    assert acted.status_code == 404, acted.text
    assert acted.json()["detail"] == {"rule": "NOT_FOUND", "message": f"No case {case_a}."}
    read = await api.get(f"/cases/{case_a}", headers=other)
    assert read.status_code == 404 and read.json()["detail"]["rule"] == "NOT_FOUND"
    after = (await api.get(f"/cases/{case_a}", headers=auth("manager", AREA_A))).json()
    assert after["version"] == before["version"]
    # Nor can it open a case for the other area.
    opened = await api.post("/cases", json=new_case_body(new_reference("TOK"), area=AREA_A),
                            headers=other)
    assert opened.status_code == 403 and opened.json()["detail"]["rule"] == "ACCESS"


# The areas the service serves (CASES_AREAS)

UNSERVED = "tokens-elsewhere"


@pytest.fixture(scope="module")
async def served_api(api: httpx.AsyncClient, settings: Settings, client: Client,
                     engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """The app of a service that serves areas A and B only."""
    served = settings.model_copy(update={"areas": [AREA_A, AREA_B]})
    transport = httpx.ASGITransport(app=create_app(served, client, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://cases.test") as http:
        yield http


async def test_a_token_for_an_area_the_service_does_not_serve_is_refused(
        served_api: httpx.AsyncClient, settings: Settings, case_a: str) -> None:
    served = await served_api.get(f"/cases/{case_a}", headers=bearer(local_token(settings)))
    assert served.status_code == 200, served.text
    # Well signed, a known role, a well-formed area: only the area is not one of the service's.
    elsewhere = bearer(local_token(settings, area=UNSERVED))
    for path in ("/cases", f"/cases/{case_a}", "/lifecycle"):
        response = await served_api.get(path, headers=elsewhere)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["detail"] == \
            "The token's area claim is not an area this service serves.", response.text
        assert UNSERVED not in response.text  # the claim's value is never echoed


async def test_a_token_with_a_role_the_service_does_not_know_is_refused(
        served_api: httpx.AsyncClient, settings: Settings) -> None:
    for role in ("chief_constable", "", "ADMIN", "system"):
        response = await served_api.get("/cases", headers=bearer(local_token(settings, role=role)))
        assert response.status_code == 401, (role, response.text)
        assert "role" in response.json()["detail"], (role, response.text)


def test_outside_development_the_areas_served_must_be_listed() -> None:
    production: dict[str, Any] = {
        "environment": "production", "jwt_signing_key": "s" * 40, "_env_file": None,
        "payload_keys": {"k": "Y29tcG9zZS10ZXN0cy1vbmx5LW5vdC1hLXJlYWwta2U="}, "payload_key_id": "k",
        "audit_key": "a" * 40, "audit_checkpoint_path": "/tmp/audit-checkpoints.jsonl"}
    with pytest.raises(ValueError, match="CASES_AREAS must list the areas"):
        Settings(**production)
    with pytest.raises(ValueError, match="CASES_AREAS holds names no token can carry"):
        Settings(**production, areas=["North Area"])
    listed = Settings(**production, areas=[AREA_A])
    assert listed.serves_area(AREA_A) and not listed.serves_area(UNSERVED)
    # In development an empty list means every area; a listed one still restricts.
    assert Settings(_env_file=None).serves_area(UNSERVED)
    assert not Settings(_env_file=None, areas=[AREA_A]).serves_area(UNSERVED)


# The local login (POST /auth/token) with users made by the admin command


@pytest.fixture
def users_db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point core.admin (which reads the settings) at the test database."""
    monkeypatch.setenv("CASES_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def new_username() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def login(api: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await api.post("/auth/token", data={"username": username, "password": password})


async def test_login_with_a_created_user_returns_a_working_token(
        api: httpx.AsyncClient, users_db: None, monkeypatch: pytest.MonkeyPatch,
        case_a: str, capsys: pytest.CaptureFixture[str]) -> None:
    username, password = new_username(), "correct horse battery staple"
    monkeypatch.setenv("CASES_NEW_USER_PASSWORD", password)
    admin.create_user(username, "prosecutor", AREA_A, None)
    assert f"user {username} (prosecutor, {AREA_A}) saved" in capsys.readouterr().out

    response = await login(api, username, password)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    token = response.json()["access_token"]
    read = await api.get(f"/cases/{case_a}", headers=bearer(token))
    assert read.status_code == 200, read.text
    history = await api.post(f"/cases/{case_a}/actions", headers=bearer(token), json={
        "action": {"kind": "record_conduct", "conduct": {
            "when": "during", "online": True, "description": "messages"}}})
    assert history.status_code == 200, history.text
    assert history.json()["entry"]["actor"] == {
        "user_id": username, "role": "prosecutor", "area": AREA_A}


async def test_login_refuses_a_wrong_password_or_an_unknown_user(
        api: httpx.AsyncClient, users_db: None) -> None:
    username = new_username()
    admin.create_user(username, "manager", AREA_A, "right-password")
    for name, password in ((username, "wrong-password"), (new_username(), "right-password"),
                           (username, ""), ("nul\x00user", "right-password")):
        response = await login(api, name, password)
        if password == "":
            assert response.status_code == 422  # the form needs a password
            continue
        assert response.status_code == 401, (name, response.text)
        assert response.json()["detail"] == {"rule": "AUTH", "message": "Wrong username or password."}
    assert (await login(api, username, "right-password")).status_code == 200


async def test_login_refuses_a_deactivated_user(
        api: httpx.AsyncClient, users_db: None, engine: Engine) -> None:
    username = new_username()
    admin.create_user(username, "manager", AREA_A, "pw-deactivated")
    with Session(engine) as session:
        user = session.get(UserRow, username)
        assert user is not None
        user.active = False
        session.add(user)
        session.commit()
    response = await login(api, username, "pw-deactivated")
    assert response.status_code == 401


@pytest.mark.parametrize(("role", "area"), [("system", AREA_A), ("manager", "Not An Area")])
async def test_login_refuses_an_account_no_token_could_carry(
        role: str, area: str, api: httpx.AsyncClient, engine: Engine) -> None:
    """Such an account cannot be made with create-user; one written into the table some other
    way still cannot sign in."""
    username = new_username()
    with pytest.raises((SystemExit, ValueError)):
        admin.create_user(username, role, area, "pw-misconfigured")
    with Session(engine) as session:
        session.add(UserRow(username=username, role=role, area=area,
                            password_hash=hash_password("pw-misconfigured")))
        session.commit()
    response = await login(api, username, "pw-misconfigured")
    assert response.status_code == 403, response.text
    assert response.json()["detail"]["rule"] == "AUTH"


async def test_login_refuses_an_account_of_an_area_the_service_does_not_serve(
        served_api: httpx.AsyncClient, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    username = new_username()
    with Session(engine) as session:
        session.add(UserRow(username=username, role="manager", area=UNSERVED,
                            password_hash=hash_password("pw-elsewhere")))
        session.commit()
    response = await login(served_api, username, "pw-elsewhere")
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == {"rule": "AUTH", "message": (
        "This account's area is not one this service serves; ask an administrator.")}
    # Nor does the admin command make such an account.
    monkeypatch.setenv("CASES_AREAS", f'["{AREA_A}"]')
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="not one this service serves"):
            admin.create_user(new_username(), "manager", UNSERVED, "pw-elsewhere")
    finally:
        get_settings.cache_clear()


# OIDC mode: keys from the provider's JWKS, its issuer and audience

ISSUER, AUDIENCE, KID = "https://idp.test/realms/cases", "cases-api", "test-key-1"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def provider_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture(scope="module")
def jwks_url(provider_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """A real HTTP server publishing the provider's public key as a JWKS."""
    jwk = json.loads(RSAAlgorithm.to_jwk(provider_key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": KID, "alg": "RS256", "use": "sig"}]}).encode()

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/certs"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), JWKS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/certs"
    server.shutdown()
    server.server_close()


async def oidc_client(settings: Settings, client: Client, engine: Engine,
                      jwks_url: str) -> httpx.AsyncClient:
    oidc = settings.model_copy(update={"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE,
                                       "oidc_jwks_url": jwks_url})
    app = create_app(oidc, client, engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cases.test")


@pytest.fixture(scope="module")
async def oidc_api(api: httpx.AsyncClient, settings: Settings, client: Client, engine: Engine,
                   jwks_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with await oidc_client(settings, client, engine, jwks_url) as http:
        yield http


def provider_token(key: Any, algorithm: str = "RS256", kid: str | None = KID,
                   **changes: Any) -> str:
    now = int(time.time())
    body = {"sub": "oidc-officer-7", "role": "officer_in_case", "area": AREA_A, "iss": ISSUER,
            "aud": AUDIENCE, "iat": now, "exp": now + 300} | changes
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


async def test_oidc_token_signed_by_the_provider_is_accepted(
        oidc_api: httpx.AsyncClient, provider_key: rsa.RSAPrivateKey) -> None:
    reference = new_reference("OIDC")
    opened = await oidc_api.post("/cases", json=new_case_body(reference, area=AREA_A),
                                 headers=bearer(provider_token(provider_key)))
    assert opened.status_code == 201, opened.text
    history = await oidc_api.get(f"/cases/{reference}/history",
                                 headers=bearer(provider_token(provider_key)))
    assert history.json()[0]["actor"] == {
        "user_id": "oidc-officer-7", "role": "officer_in_case", "area": AREA_A}
    listed = await oidc_api.get("/cases", headers=bearer(provider_token(provider_key)))
    assert listed.status_code == 200


async def test_oidc_refuses_tokens_the_provider_did_not_sign(
        oidc_api: httpx.AsyncClient, provider_key: rsa.RSAPrivateKey, settings: Settings) -> None:
    public_pem = provider_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    refused = {
        "another key, same kid": (provider_token(rsa_key()), "signature does not verify"),
        "unknown kid": (provider_token(rsa_key(), kid="someone-elses-key"), "No signing key"),
        "no kid": (provider_token(provider_key, kid=None), "No signing key"),
        "wrong audience": (provider_token(provider_key, aud="another-api"), "audience"),
        "wrong issuer": (provider_token(provider_key, iss="https://idp.invalid"), "issuer"),
        "expired": (provider_token(provider_key, iat=now() - 7200, exp=now() - 3600), "expired"),
        "role system": (provider_token(provider_key, role="system"), "service's own role"),
        # Algorithm confusion: HMAC keyed with the provider's public key.
        "HS256 with the public key": (_hs256_confusion(public_pem), "algorithm"),
        "a local token": (local_token(settings), "No signing key"),
    }
    for problem, (token, says) in refused.items():
        response = await oidc_api.get("/cases", headers=bearer(token))
        assert response.status_code == 401, (problem, response.text)
        assert says in response.json()["detail"], (problem, response.json())


def _hs256_confusion(public_pem: bytes) -> str:
    """An HS256 token keyed with the provider's public key, built by hand: PyJWT refuses to."""
    import base64
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = b64(json.dumps({"sub": "x", "role": "admin", "area": AREA_A, "iss": ISSUER,
                              "aud": AUDIENCE, "iat": now(), "exp": now() + 300}).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


async def test_oidc_provider_unreachable_is_503_not_a_refusal(
        settings: Settings, client: Client, engine: Engine,
        provider_key: rsa.RSAPrivateKey) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]  # bound, then closed: nothing listens there
    async with await oidc_client(settings, client, engine,
                                 f"http://127.0.0.1:{port}/certs") as http:
        response = await http.get("/cases", headers=bearer(provider_token(provider_key)))
    assert response.status_code == 503, response.text
    assert response.json()["detail"]["rule"] == "UNAVAILABLE"


# OIDC mode: the token's standard claims make the user's profile


def stored_profile(engine: Engine, user_id: str) -> StaffProfileRow | None:
    with Session(engine) as session:
        return session.get(StaffProfileRow, user_id)


async def test_oidc_claims_make_the_profile_the_first_time_and_again_when_they_change(
        oidc_api: httpx.AsyncClient, provider_key: rsa.RSAPrivateKey, engine: Engine) -> None:
    subject = f"oidc-{uuid.uuid4().hex[:8]}"
    contact = {"sub": subject, "name": "Dee Khan", "email": "dee.khan@force.example",
               "phone_number": "+44 7700 900321"}
    me = await oidc_api.get("/me", headers=bearer(provider_token(provider_key, **contact)))
    assert me.status_code == 200, me.text
    assert me.json() == {"user_id": subject, "display_name": "Dee Khan",
                         "email": "dee.khan@force.example", "phone": "+44 7700 900321",
                         "role": "officer_in_case", "area": AREA_A, "active": True,
                         "absence": None}

    # The same claims again write nothing: a change made to the row meanwhile stays.
    with Session(engine) as session:
        row = session.get(StaffProfileRow, subject)
        assert row is not None
        row.phone = "01632 960001"
        session.add(row)
        session.commit()
    await oidc_api.get("/cases", headers=bearer(provider_token(provider_key, **contact)))
    row = stored_profile(engine, subject)
    assert row is not None and row.phone == "01632 960001"

    # Changed claims are written; one left out keeps what is stored.
    changed = contact | {"email": "d.khan@force.example", "name": "Dee Khan-Ali"}
    del changed["phone_number"]
    await oidc_api.get("/cases", headers=bearer(provider_token(provider_key, **changed)))
    row = stored_profile(engine, subject)
    assert row is not None
    assert (row.display_name, row.email, row.phone) == \
        ("Dee Khan-Ali", "d.khan@force.example", "01632 960001")


async def test_a_local_token_writes_no_profile(api: httpx.AsyncClient, settings: Settings,
                                               engine: Engine) -> None:
    subject = f"local-{uuid.uuid4().hex[:8]}"
    token = local_token(settings, sub=subject, name="Not Used", email="x@force.example")
    assert (await api.get("/cases", headers=bearer(token))).status_code == 200
    assert stored_profile(engine, subject) is None
