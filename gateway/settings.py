"""Settings: one pydantic-settings class, read from `OBGW_*` environment variables."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class FapiProfile(StrEnum):
    STRICT = "strict"
    BASELINE = "baseline"


class CoreKind(StrEnum):
    SANDBOX = "sandbox"
    FINERACT = "fineract"


class ForwardedHeader(StrEnum):
    """The header the trusted proxies write the client's address into."""

    X_FORWARDED_FOR = "x-forwarded-for"
    FORWARDED = "forwarded"  # RFC 7239


Network = IPv4Network | IPv6Network


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is a loopback address or `localhost`."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Every knob of the gateway; DESIGN §2 names them. All optional."""

    # Validation errors are printed and logged: they must not echo a secret given in a variable.
    model_config = SettingsConfigDict(env_prefix="OBGW_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = Environment.SANDBOX
    # Not OBGW_PORT: Kubernetes service links would set that to "tcp://…".
    http_port: int = 8000
    issuer: str = ""
    data_dir: Path = Path(".obgw")
    database_url: str = ""
    redis_url: str = ""
    core: CoreKind | None = None
    fineract_url: str = ""
    fineract_tenant: str = "default"
    fineract_username: str = ""
    fineract_password: str = ""
    policy_file: Path | None = None
    fapi_profile: FapiProfile | None = None
    otlp_endpoint: str = ""
    trace_sample_ratio: float = Field(default=0.01, ge=0.0, le=1.0)
    log_level: str = "INFO"
    log_json: bool = True
    # The gateway secret; unset: generated into `<data dir>/secret.key` on first start.
    secret_key: SecretStr | None = None

    access_token_ttl: int = Field(default=300, ge=30, le=3600)
    authorization_code_ttl: int = Field(default=60, ge=5, le=60)
    par_ttl: int = Field(default=90, ge=10, le=90)
    refresh_token_ttl: int = Field(default=90 * 86400, ge=3600)
    dpop_iat_window: int = Field(default=60, ge=5, le=600)
    dpop_require_nonce: bool = False
    max_body_bytes: int = 64 * 1024
    # The request line and header fields of one request (`431` past either limit).
    max_header_bytes: int = Field(default=32 * 1024, ge=4 * 1024, le=1024 * 1024)
    max_header_count: int = Field(default=100, ge=20, le=1000)
    # Seconds a request head may take to arrive, from its first byte or the connection's start.
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    revocation_poll_interval: float = Field(default=0.5, gt=0, le=1.0)
    core_timeout: float = Field(default=5.0, gt=0, le=60)
    # Customer login at the authorize pages: wrong passwords and one-time codes allowed per
    # pushed request and per customer, and how long a locked customer stays locked.
    login_password_attempts: int = Field(default=5, ge=1, le=20)
    login_code_attempts: int = Field(default=3, ge=1, le=10)
    login_lockout: int = Field(default=900, ge=60, le=86400)

    @field_validator("secret_key", mode="before")
    @classmethod
    def _whole_secret(cls, value: object) -> object:
        if value == "":
            return None  # an empty variable (a template's default) means unset
        if isinstance(value, str) and len(value) < 32:
            raise ValueError(
                "OBGW_SECRET_KEY must be at least 32 characters, e.g. the output of "
                "`python3 -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return value

    trusted_proxies: Annotated[tuple[Network, ...], NoDecode] = ()
    forwarded_header: ForwardedHeader = ForwardedHeader.X_FORWARDED_FOR

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> tuple[Network, ...]:
        """Addresses or CIDR networks, comma- or space-separated (or a list)."""
        items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
        networks: list[Network] = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"OBGW_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR network "
                    "(e.g. 10.0.0.0/8, 192.0.2.10)"
                ) from None
        return tuple(networks)

    @model_validator(mode="after")
    def _defaults_and_checks(self) -> Settings:
        if not self.issuer:
            self.issuer = f"http://127.0.0.1:{self.http_port}"
        self.issuer = self.issuer.rstrip("/")
        scheme = urlsplit(self.issuer).scheme
        if scheme != "https" and not (scheme == "http" and is_loopback_url(self.issuer)):
            raise ValueError(
                f"OBGW_ISSUER={self.issuer!r} must be an https URL "
                "(plain http is accepted only for loopback development issuers)"
            )
        if self.core is None:
            is_sandbox = self.environment is Environment.SANDBOX
            self.core = CoreKind.SANDBOX if is_sandbox else CoreKind.FINERACT
        if self.fapi_profile is None:
            self.fapi_profile = (
                FapiProfile.BASELINE
                if self.environment is Environment.SANDBOX
                else FapiProfile.STRICT
            )
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'obgw.db'}"
        if self.core is CoreKind.FINERACT and not self.fineract_url:
            raise ValueError("OBGW_CORE=fineract needs OBGW_FINERACT_URL (the core's base URL)")
        return self

    @property
    def is_sandbox(self) -> bool:
        return self.environment is Environment.SANDBOX

    @property
    def is_strict(self) -> bool:
        return self.fapi_profile is FapiProfile.STRICT

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
