"""One Settings class, read from environment variables prefixed CASES_."""

import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.codec import load_keys
from core.service_levels import service_levels
from models.case import AREA_PATTERN
from models.deadlines import DeadlinePolicy
from models.enums import CaseState

DEVELOPMENT_SIGNING_KEY = "development-only-signing-key-change-me-0123456789"
# A fixed AES-256 key so a development checkout runs out of the box; refused elsewhere.
DEVELOPMENT_PAYLOAD_KEY_ID = "development"
DEVELOPMENT_PAYLOAD_KEY = "boAFFuSVDYd/rRLPtaNceLt5wXaLfeUKqovKUQUUlyo="
# The audit chain's HMAC key in development; refused elsewhere (anyone can read it here).
DEVELOPMENT_AUDIT_KEY = "development-only-audit-key-change-me-0123456789abcdef"
AUDIT_KEY_MIN_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", env_file=".env", extra="ignore")

    environment: str = "development"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "cases"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    index_search_attributes: bool = True
    database_url: str = f"sqlite:///{Path('.data/read-model.db').absolute()}"

    # Authentication: local HS256 tokens by default; an OIDC provider in production.
    jwt_signing_key: str = DEVELOPMENT_SIGNING_KEY
    jwt_issuer: str = "stalking-cases-local"
    jwt_audience: str = "stalking-cases-api"
    token_minutes: int = 60
    # Sign-in throttling (api/login.py): more attempts than these in one window, for one
    # account or from one client address, are answered 429 until the window ends.
    login_window_seconds: int = Field(default=300, ge=1)
    login_attempts_per_account: int = Field(default=5, ge=1)
    login_attempts_per_address: int = Field(default=30, ge=1)
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None

    # Payload encryption (core/codec.py): key id -> base64 32-byte key, e.g.
    # CASES_PAYLOAD_KEYS='{"2026-11": "..."}'. The current id encrypts; every listed key still
    # decrypts, so keep a retired key listed while any workflow history holds its payloads.
    payload_keys: dict[str, str] = {DEVELOPMENT_PAYLOAD_KEY_ID: DEVELOPMENT_PAYLOAD_KEY}
    payload_key_id: str = DEVELOPMENT_PAYLOAD_KEY_ID

    # The audit log (core/audit.py): its hash chain is keyed with this secret, which the
    # database never holds, so whoever can write the database cannot rewrite the chain unseen.
    audit_key: str = DEVELOPMENT_AUDIT_KEY
    # Signed checkpoints of the chain's head, one JSON line each, appended to this file every
    # audit_checkpoint_every entries (0: only by `cases-admin audit-checkpoint`). Keep it where
    # the database's administrators cannot write, shared by every API process. Required outside
    # development; unset in development, no checkpoint is written.
    audit_checkpoint_path: Path | None = None
    audit_checkpoint_every: int = Field(default=1000, ge=0)

    # Notifications: "outbox" (embedded default), "smtp" or "notify" (GOV.UK Notify).
    notifier: str = "outbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "cases@localhost"
    staff_email_domain: str = "cases.invalid"
    notify_api_key: str | None = None
    notify_email_template: str | None = None
    notify_sms_template: str | None = None

    # Areas served: the worker keeps a monthly SPOC-contact schedule for each (P4.1), and the
    # API refuses a token (or a login) for any other area. Required outside development; in
    # development an empty list means any area (see serves_area).
    areas: list[str] = []

    # Per-area overrides of any DeadlinePolicy period, e.g. {"north": {"risk_review_days": 14}}.
    deadline_overrides: dict[str, dict[str, int]] = {}

    # Operations (docs/operations.md): log level of the JSON logs; the worker serves the SDK's
    # Prometheus metrics at http://<host>:<port>/metrics when a port is set.
    log_level: str = "INFO"
    # The API's GET /metrics answers only to `Authorization: Bearer <this>`; unset, it is open
    # in development and not served elsewhere (docs/operations.md).
    metrics_token: str | None = None
    worker_metrics_host: str = "0.0.0.0"
    worker_metrics_port: int | None = None
    # Workflow tasks one worker process takes at once. Python runs them one at a time (the
    # GIL); a task not finished within Temporal's 10 s task timeout is retried elsewhere, so a
    # worker that takes more than it can finish in time (a restart replaying every open case)
    # spends its CPU on work that is thrown away. Tasks left waiting on the server time out never.
    worker_workflow_slots: int = 10

    # How long the API waits for a case's workflow to take and answer an action: past it (no
    # worker polling, every worker busy) the action is answered 503 with its request id, to be
    # sent again (docs/operations.md).
    update_timeout_seconds: float = Field(default=30.0, gt=0)
    # `python -m api.serve` runs this many API processes; 0: one per core (api/serve.py).
    api_processes: int = Field(default=0, ge=0)

    # The API writes the read model from each action's answer; each case's workflow writes it
    # again this many seconds after an action as the durable backstop (when the API could not).
    projection_backstop_seconds: float = 30.0

    def serves_area(self, area: str) -> bool:
        """Whether the service serves this area: one of CASES_AREAS, or any in development
        while CASES_AREAS is empty (outside development it never is: see the validator)."""
        return area in self.areas if self.areas else self.environment == "development"

    def deadline_policy(self, area: str) -> DeadlinePolicy:
        return DeadlinePolicy(**self.deadline_overrides.get(area, {}))

    # Managers' views (core/service_levels.py): per-area days a case may sit in a state before
    # it counts as stuck, e.g. {"north": {"charging": 21}}; null switches one off.
    service_level_overrides: dict[str, dict[CaseState, int | None]] = {}
    # The sweeper (activities/sweeper.py) looks at running cases this often, and calls an
    # activity stuck once it has been attempted this many times.
    sweep_interval_seconds: int = 300
    stuck_activity_attempts: int = 3

    def service_levels(self, area: str) -> dict[CaseState, timedelta | None]:
        return service_levels(self.service_level_overrides, area)

    @model_validator(mode="after")
    def refuse_default_secrets_in_production(self) -> "Settings":
        if self.environment != "development" and self.oidc_issuer is None \
                and self.jwt_signing_key == DEVELOPMENT_SIGNING_KEY:
            raise ValueError("CASES_JWT_SIGNING_KEY must be set outside development")
        if self.environment != "development" and (
                DEVELOPMENT_PAYLOAD_KEY in self.payload_keys.values()
                or DEVELOPMENT_PAYLOAD_KEY_ID in self.payload_keys):
            raise ValueError("CASES_PAYLOAD_KEYS and CASES_PAYLOAD_KEY_ID must be set outside "
                             "development (the development key is public)")
        if self.environment != "development" and self.audit_key == DEVELOPMENT_AUDIT_KEY:
            raise ValueError("CASES_AUDIT_KEY must be set outside development (the development "
                             "key is public)")
        if len(self.audit_key) < AUDIT_KEY_MIN_LENGTH:
            raise ValueError(f"CASES_AUDIT_KEY must be at least {AUDIT_KEY_MIN_LENGTH} "
                             "characters (a random secret)")
        if self.environment != "development" and self.audit_checkpoint_path is None:
            raise ValueError("CASES_AUDIT_CHECKPOINT_PATH must be set outside development: the "
                             "audit chain's signed checkpoints are written there")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ValueError("CASES_METRICS_TOKEN must be at least 16 characters (a random secret)")
        if malformed := [area for area in self.areas if not re.match(AREA_PATTERN, area)]:
            raise ValueError(f"CASES_AREAS holds names no token can carry: {malformed} (an area "
                             "is lower-case letters, digits and hyphens)")
        if self.environment != "development" and not self.areas:
            raise ValueError('CASES_AREAS must list the areas this service serves outside '
                             'development, e.g. CASES_AREAS=\'["north", "south"]\'')
        load_keys(self.payload_keys)
        if self.payload_key_id not in self.payload_keys:
            raise ValueError(f"CASES_PAYLOAD_KEY_ID {self.payload_key_id!r} is not a key of "
                             "CASES_PAYLOAD_KEYS")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
