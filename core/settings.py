"""One Settings class, read from environment variables prefixed CASES_."""

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SIGNING_KEY = "development-only-signing-key-change-me-0123456789"


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
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None

    @model_validator(mode="after")
    def refuse_default_secrets_in_production(self) -> "Settings":
        if self.environment != "development" and self.oidc_issuer is None \
                and self.jwt_signing_key == DEVELOPMENT_SIGNING_KEY:
            raise ValueError("CASES_JWT_SIGNING_KEY must be set outside development")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
