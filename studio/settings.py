"""One settings object, read from the environment and `.env`.

Nothing configured means embedded mode: SQLite and local files under DATA_DIR, jobs on threads in the app
process, mail written to an outbox folder. Each of DATABASE_URL, REDIS_URL, S3_BUCKET and SMTP_HOST switches
its part to the production service. Outside embedded mode every secret must be real: `problems()` names
each missing or placeholder value, and `validated()` refuses to start with them.

This is the only module that reads the environment.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from studio.domain.network import Network, networks
from studio.errors import ConfigError

MIN_SECRET_KEY_LENGTH = 32

_PLACEHOLDER_WORDS = {
    "",
    "secret",
    "password",
    "placeholder",
    "todo",
    "tbd",
    "none",
    "null",
    "test",
    "example",
}
_PLACEHOLDER_PATTERN = re.compile(
    r"(change|replace|fill)[-_ ]?(me|this)|^your[-_ ]|^<.*>$|^x+$|^\.\.\.$", re.I
)


def is_placeholder(value: str | None) -> bool:
    """True for an empty secret or one copied unchanged from an example (change-me, <your key>, xxx)."""
    if value is None:
        return True
    text = value.strip()
    return text.lower() in _PLACEHOLDER_WORDS or bool(_PLACEHOLDER_PATTERN.search(text))


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _refusal(problems: list[str]) -> ConfigError:
    return ConfigError("The studio cannot start with these settings:\n- " + "\n- ".join(problems))


class Settings(BaseSettings):
    """Every setting of the studio; `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore"
    )

    # General
    data_dir: Path = Path("data")
    public_url: str = "http://localhost:8501"
    secret_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    dev_sign_in: bool | None = None
    trusted_proxies: str = ""  # comma-separated addresses or networks whose X-Forwarded-For is believed
    rate_limit_generations: str = "30/minute;600/hour"  # submits per account
    rate_limit_signups: str = "10/hour"  # new accounts per client address
    rate_limit_share_views: str = "120/minute"  # views of one share link per client address

    # Database
    database_url: SecretStr | None = None

    # Jobs
    redis_url: SecretStr | None = None
    worker_queues: str = "high,default,low"
    job_concurrency: int = Field(default=4, ge=1, le=64)
    # Generation jobs at the provider at once, for everybody (the fair queue hands them out); None: as many
    # as jobs can run at once (the workers, or the job threads in embedded mode).
    generation_slots: int | None = Field(default=None, ge=1, le=1024)

    # Object storage
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_public_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    # Generation
    fal_key: SecretStr | None = None
    demo_seconds: float | None = Field(default=None, ge=0.1, le=120)
    generation_timeout_seconds: float = Field(default=600.0, ge=1, le=3600)
    provider_poll_seconds: float = Field(default=0.1, ge=0.02, le=10)
    job_stale_seconds: float = Field(default=60.0, ge=1, le=3600)
    reconcile_interval_seconds: int = Field(default=30, ge=1, le=3600)
    provider_inputs: Literal["auto", "url", "data"] = "auto"

    # Library
    trash_retention_days: int = Field(default=30, ge=1, le=3650)

    # Accounts
    require_email_verification: bool = True
    session_idle_minutes: int = Field(default=10080, ge=5, le=525600)
    login_max_failures: int = Field(default=5, ge=2, le=100)
    login_client_max_failures: int = Field(default=30, ge=2, le=10000)
    login_lockout_minutes: float = Field(default=15.0, gt=0, le=1440)

    # Payments (Stripe); without STRIPE_SECRET_KEY payments are off and admins assign plans
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_price_starter: str | None = None
    stripe_price_pro: str | None = None
    stripe_price_studio: str | None = None
    stripe_api_base: str | None = None  # another Stripe-compatible API (stripe-mock, localstripe in tests)

    # Mail
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_from: str = "the studio <studio@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    # --- which mode each part runs in -------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        """True when no production service is configured at all."""
        return not (self.database_url or self.redis_url or self.s3_bucket or self.smtp_host)

    @property
    def database_mode(self) -> Literal["sqlite", "postgres"]:
        return "postgres" if self.sqlalchemy_url.startswith("postgresql") else "sqlite"

    @property
    def queue_mode(self) -> Literal["in-process", "rq"]:
        return "rq" if self.redis_url else "in-process"

    @property
    def storage_mode(self) -> Literal["local", "s3"]:
        return "s3" if self.s3_bucket else "local"

    @property
    def provider_mode(self) -> Literal["demo", "fal"]:
        return "fal" if self.fal_key and not is_placeholder(self.fal_key.get_secret_value()) else "demo"

    @property
    def provider_inputs_mode(self) -> Literal["url", "data"]:
        """How stored images reach the provider: presigned URLs it fetches, or inline data: URIs. "auto"
        sends URLs only from S3 at an address the provider can reach (not a loopback one)."""
        if self.provider_inputs != "auto":
            return self.provider_inputs
        if self.storage_mode != "s3":
            return "data"
        host = urlsplit(self.s3_public_url or self.s3_endpoint_url or "https://s3.amazonaws.com").hostname
        return "data" if host in (None, "localhost", "127.0.0.1", "::1", "minio") else "url"

    @property
    def mail_mode(self) -> Literal["outbox", "smtp"]:
        return "smtp" if self.smtp_host else "outbox"

    @property
    def payments_mode(self) -> Literal["off", "stripe"]:
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else None
        return "off" if is_placeholder(key) else "stripe"

    @property
    def stripe_prices(self) -> dict[str, str]:
        """Plan code -> Stripe price id, for the paid plans whose price is configured."""
        configured = {
            "starter": self.stripe_price_starter,
            "pro": self.stripe_price_pro,
            "studio": self.stripe_price_studio,
        }
        return {code: price.strip() for code, price in configured.items() if price and price.strip()}

    @property
    def dev_sign_in_enabled(self) -> bool:
        """The development sign-in (demo accounts) is on by default in embedded mode only."""
        return self.embedded if self.dev_sign_in is None else self.dev_sign_in

    # --- derived values ---------------------------------------------------------------------------------

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @cached_property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL with the psycopg 3 driver named, or the embedded SQLite file."""
        if self.database_url is None:
            return f"sqlite:///{self.data_path / 'studio.db'}"
        url = self.database_url.get_secret_value().strip()
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def queue_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.worker_queues.split(",") if name.strip())

    @property
    def public_base_url(self) -> str:
        return self.public_url.rstrip("/")

    # --- validation -------------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every reason these settings cannot run the studio, each naming the setting to fix."""
        found: list[str] = []
        scheme = urlsplit(self.public_url).scheme
        if scheme not in ("http", "https"):
            found.append("PUBLIC_URL must be an http:// or https:// address, e.g. http://localhost:8501")
        if not self.queue_names:
            found.append("WORKER_QUEUES must name at least one queue, e.g. high,default,low")
        if not self.sqlalchemy_url.startswith(("postgresql+psycopg://", "sqlite://")):
            found.append("DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host/db)")
        found += self._secret_problems()
        found += self._consistency_problems()
        found += self._network_problems()
        return found

    def _network_problems(self) -> list[str]:
        from limits import parse_many

        found = []
        try:
            networks(self.trusted_proxies)
        except ValueError as err:
            found.append(f"TRUSTED_PROXIES: {err}; give addresses or networks, e.g. 10.0.0.1,172.16.0.0/12")
        for name in ("rate_limit_generations", "rate_limit_signups", "rate_limit_share_views"):
            try:
                parse_many(getattr(self, name))
            except ValueError:
                found.append(f"{name.upper()} must be rates like 30/minute;600/hour")
        return found

    @property
    def proxies(self) -> list[Network]:
        """TRUSTED_PROXIES as networks (validated on start)."""
        try:
            return networks(self.trusted_proxies)
        except ValueError:
            return []

    def _secret_problems(self) -> list[str]:
        found: list[str] = []
        if not self.embedded:
            key = self.secret_key.get_secret_value() if self.secret_key else None
            if is_placeholder(key):
                found.append(
                    "SECRET_KEY is missing or a placeholder; outside embedded mode set it to a random value, "
                    'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
                )
            elif key is not None and len(key) < MIN_SECRET_KEY_LENGTH:
                found.append(
                    f"SECRET_KEY is too short; use at least {MIN_SECRET_KEY_LENGTH} random characters"
                )
            if self.dev_sign_in:
                found.append(
                    "DEV_SIGN_IN lets anyone sign in as a demo account; it is only allowed in embedded mode"
                )
        if self.fal_key is not None and is_placeholder(self.fal_key.get_secret_value()):
            found.append(
                "FAL_KEY is a placeholder; set your fal.ai key, or leave it empty for the demo provider"
            )
        for name, url in (("DATABASE_URL", self.database_url), ("REDIS_URL", self.redis_url)):
            password = _url_password(url.get_secret_value()) if url else None
            if password is not None and is_placeholder(password):
                found.append(f"{name} contains a placeholder password; set the real one")
        if self.s3_access_key_id or self.s3_secret_access_key:
            secret = self.s3_secret_access_key.get_secret_value() if self.s3_secret_access_key else None
            if not self.s3_access_key_id:
                found.append("S3_ACCESS_KEY_ID is missing while S3_SECRET_ACCESS_KEY is set")
            if is_placeholder(secret):
                found.append("S3_SECRET_ACCESS_KEY is missing or a placeholder; set the real secret key")
        if self.stripe_secret_key is not None and self.payments_mode == "off":
            found.append("STRIPE_SECRET_KEY is a placeholder; set your Stripe key, or leave it empty")
        if self.payments_mode == "stripe":
            hook = self.stripe_webhook_secret.get_secret_value() if self.stripe_webhook_secret else None
            if is_placeholder(hook):
                found.append(
                    "STRIPE_WEBHOOK_SECRET is missing or a placeholder while STRIPE_SECRET_KEY is set; "
                    "copy the signing secret (whsec_...) of the webhook endpoint /api/stripe/webhook"
                )
            if not self.stripe_prices:
                found.append(
                    "STRIPE_PRICE_STARTER, STRIPE_PRICE_PRO or STRIPE_PRICE_STUDIO: set the price id of "
                    "at least one paid plan while STRIPE_SECRET_KEY is set"
                )
        if self.smtp_username:
            password = self.smtp_password.get_secret_value() if self.smtp_password else None
            if is_placeholder(password):
                found.append("SMTP_PASSWORD is missing or a placeholder while SMTP_USERNAME is set")
        return found

    def _consistency_problems(self) -> list[str]:
        found: list[str] = []
        if not self.s3_bucket:
            for name, value in (
                ("S3_ENDPOINT_URL", self.s3_endpoint_url),
                ("S3_PUBLIC_URL", self.s3_public_url),
                ("S3_ACCESS_KEY_ID", self.s3_access_key_id),
            ):
                if value:
                    found.append(f"{name} is set but S3_BUCKET is not; set S3_BUCKET to use S3")
        if not self.smtp_host and self.smtp_username:
            found.append("SMTP_USERNAME is set but SMTP_HOST is not; set SMTP_HOST to send mail")
        return found

    def validated(self) -> Settings:
        """These settings, or a ConfigError listing every problem."""
        found = self.problems()
        if found:
            raise _refusal(found)
        return self

    def describe(self) -> dict[str, str]:
        """Which service each part uses, safe to show to admins (no secrets)."""
        return {
            "mode": "embedded" if self.embedded else "production",
            "database": self.database_mode,
            "jobs": self.queue_mode,
            "storage": self.storage_mode,
            "mail": self.mail_mode,
            "provider": self.provider_mode,
            "payments": self.payments_mode,
        }


def load() -> Settings:
    """The settings from the environment and `.env`, or a ConfigError naming every value it cannot read."""
    try:
        return Settings()
    except ValidationError as err:
        # The message and the name only: the rejected value may be a secret.
        raise _refusal(
            [f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in err.errors()]
        ) from None
