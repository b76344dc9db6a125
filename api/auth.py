"""Bearer-token authentication (OAuth2 with JWTs) and the current user.

Local tokens are HS256, signed with CASES_JWT_SIGNING_KEY and issued by POST /auth/token for
users created with `cases-admin create-user`. With CASES_OIDC_ISSUER set, tokens from that
provider are verified instead, with keys from its JWKS, its issuer and audience, and the
user's profile follows the token's `name`, `email` and `phone_number` (core.profiles.ProfileSync).
"""

from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import ValidationError

from api.busy import retry_after, unavailable_detail
from core.profiles import ContactClaims, ProfileSync
from core.settings import Settings
from models.case import Actor
from models.enums import Role

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


class TokenVerifier:
    """Verifies a bearer token and turns its claims into an Actor."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url) if settings.oidc_jwks_url else None
        self.profiles = ProfileSync()

    def actor(self, token: str) -> Actor:
        return self.identify(token)[0]

    def identify(self, token: str) -> tuple[Actor, ContactClaims | None]:
        """The token's user and, from an OIDC provider, the contact details it states
        (a local token states none: a local user's profile is set by an administrator)."""
        s = self._settings
        options: Any = {"require": ["exp", "iat", "sub", "iss", "aud"]}
        if self._jwks is not None:
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, algorithms=["RS256", "ES256"],
                                audience=s.oidc_audience, issuer=s.oidc_issuer, options=options)
        else:
            claims = jwt.decode(token, s.jwt_signing_key, algorithms=["HS256"],
                                audience=s.jwt_audience, issuer=s.jwt_issuer, options=options)
        try:
            actor = Actor(user_id=claims["sub"], role=claims.get("role"), area=claims.get("area"))
        except ValidationError as err:
            names = sorted({_CLAIM_OF_FIELD.get(str(e["loc"][0]), str(e["loc"][0]))
                            for e in err.errors() if e["loc"]})
            raise ClaimRefused(f"The token's {' and '.join(names)} claim is missing or not valid.") from err
        if actor.role is Role.SYSTEM:  # the service's own role is never handed out
            raise ClaimRefused("The token's role is not allowed: no user holds the service's own role.")
        if not s.serves_area(actor.area):  # well signed, but for an area this service does not run
            raise ClaimRefused("The token's area claim is not an area this service serves.")
        return actor, ContactClaims.from_claims(claims) if self._jwks is not None else None


class ClaimRefused(jwt.InvalidTokenError):
    """A well-signed token whose claims do not make a user of this service; says which."""


_CLAIM_OF_FIELD = {"user_id": "sub", "role": "role", "area": "area"}


def _why_refused(err: jwt.PyJWTError) -> str:
    """What is wrong with the token, in a sentence; never the token or its claims' values."""
    if isinstance(err, ClaimRefused):
        return str(err)
    if isinstance(err, jwt.MissingRequiredClaimError):
        return f"The token lacks the required '{err.claim}' claim."
    for kind, reason in _REASONS:
        if isinstance(err, kind):
            return reason
    return "The token is invalid."


# Most specific first: an expired token is also an invalid one, a bad signature a decode error.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet (nbf or iat is in the future)."),
    (jwt.InvalidAudienceError, "The token is not for this service (audience)."),
    (jwt.InvalidIssuerError, "The token's issuer is not trusted."),
    (jwt.InvalidAlgorithmError, "The token's signing algorithm is not accepted."),
    (jwt.InvalidSignatureError, "The token's signature does not verify: it was not signed by "
                                "a key this service trusts."),
    (jwt.PyJWKClientError, "No signing key of the identity provider matches the token."),
    (jwt.DecodeError, "The token is malformed: not a signed JWT."),
)


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


def current_user(request: Request,
                 token: Annotated[str | None, Depends(oauth2_scheme)]) -> Actor:
    if not token:
        raise _unauthorised("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        actor, contact = verifier.identify(token)
    except jwt.PyJWKClientConnectionError as err:
        # The provider's keys cannot be fetched: not the caller's fault, and worth a retry.
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, headers=retry_after(),
                            detail=unavailable_detail("The identity provider's signing keys "
                                                      "cannot be fetched; try again.")) from err
    except jwt.PyJWTError as err:
        raise _unauthorised(_why_refused(err)) from err
    if contact is not None:
        verifier.profiles.sync(request.app.state.engine, actor, contact)
    request.state.actor = actor
    return actor


CurrentUser = Annotated[Actor, Depends(current_user)]
