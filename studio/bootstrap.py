"""The composition root: builds the studio's adapters from one Settings object, once per process.

Pages, routes, jobs and the worker all get their database, storage, queue and mailer from `services()`;
`studio.startup.start()` brings them up. Tests install their own set with `install()`. Nothing below
this module imports it: the services receive the container (`studio.services.context.Services`).
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from studio.adapters import ratelimit
from studio.adapters.attempts import AttemptPolicy, MemoryAttempts, RedisAttempts
from studio.adapters.db import Database
from studio.adapters.mail import Mailer, OutboxMailer, SmtpMailer
from studio.adapters.payments import Payments, StripePayments
from studio.adapters.provider import Provider
from studio.adapters.queue import InProcessQueue, JobQueue, RQQueue
from studio.adapters.ratelimit import LimitsRateLimiter
from studio.adapters.storage import LocalStorage, ObjectStorage, S3Storage
from studio.errors import ConfigError
from studio.services.context import Services, SignInLimits
from studio.settings import Settings, is_placeholder, load

T = TypeVar("T")


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, or in embedded mode a random key kept under DATA_DIR so signed links survive restarts."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    if configured and not is_placeholder(configured):
        return configured
    # Only reachable in embedded mode: Settings.validated() refuses a missing key anywhere else.
    path = settings.data_path / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_name(f".secret_key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    try:
        os.link(tmp, path)  # atomic and exclusive: if another process got there first, use its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def build_services(settings: Settings) -> Services:
    """The adapters these settings ask for; raises ConfigError naming every bad setting."""
    settings.validated()
    key = secret_key(settings)
    database = Database.from_url(settings.sqlalchemy_url)
    storage: ObjectStorage
    if settings.s3_bucket:
        storage = S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            public_url=settings.s3_public_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
        )
    else:
        storage = LocalStorage(
            settings.data_path / "files", secret_key=key, base_url=settings.public_base_url
        )
    queue: JobQueue
    if settings.redis_url:
        queue = RQQueue.from_url(settings.redis_url.get_secret_value(), settings.queue_names)
    else:
        queue = InProcessQueue(
            settings.data_path / "jobs", workers=settings.job_concurrency, queue_names=settings.queue_names
        )
    mailer: Mailer
    if settings.smtp_host:
        mailer = SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            security=settings.smtp_security,
            timeout=settings.smtp_timeout_seconds,
        )
    else:
        mailer = OutboxMailer(settings.data_path / "outbox", sender=settings.smtp_from)
    return Services(
        settings,
        database,
        storage,
        queue,
        mailer,
        provider_factory(settings),
        sign_in_limits(settings),
        key,
        payments(settings),
        limiter=LimitsRateLimiter(
            ratelimit.storage_uri(settings.redis_url.get_secret_value() if settings.redis_url else None)
        ),
    )


def payments(settings: Settings) -> Payments | None:
    if settings.payments_mode == "off" or settings.stripe_secret_key is None:
        return None
    hook = settings.stripe_webhook_secret
    return StripePayments(
        settings.stripe_secret_key.get_secret_value(),
        hook.get_secret_value() if hook else "",
        api_base=settings.stripe_api_base,
    )


def sign_in_limits(settings: Settings) -> SignInLimits:
    """Redis when configured (shared by every app process), else in this process's memory."""
    lockout = settings.login_lockout_minutes * 60
    account = AttemptPolicy(settings.login_max_failures, lockout_seconds=lockout, window_seconds=lockout)
    client = AttemptPolicy(
        settings.login_client_max_failures,
        lockout_seconds=lockout,
        window_seconds=lockout,
        free_failures=max(3, settings.login_client_max_failures // 2),
    )
    if settings.redis_url:
        from redis import Redis

        connection = Redis.from_url(settings.redis_url.get_secret_value())
        return SignInLimits(RedisAttempts(connection, account), RedisAttempts(connection, client))
    return SignInLimits(MemoryAttempts(account), MemoryAttempts(client))


def provider_factory(settings: Settings) -> Callable[[str], Provider]:
    """Providers by name: a job keeps the provider it was accepted with, even if settings change later."""
    key = settings.fal_key.get_secret_value() if settings.fal_key else None

    def make(name: str) -> Provider:
        if name == "fal":
            if settings.provider_mode != "fal" or key is None:
                raise ConfigError("FAL_KEY is not set, so jobs accepted for fal.ai cannot run")
            from studio.adapters.fal import FalProvider

            return FalProvider(key)
        from studio.adapters.demo import DemoProvider

        if settings.demo_seconds is not None:
            return DemoProvider(min_seconds=settings.demo_seconds, max_seconds=settings.demo_seconds)
        return DemoProvider()

    return make


_lock = threading.Lock()
_current: Services | None = None


def services() -> Services:
    """This process's services, built from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = build_services(load())
        return _current


def or_exit(build: Callable[[], T]) -> T:
    """For entry points: `build()`, or print why the settings are unusable (each one named) and exit 2."""
    try:
        return build()
    except ConfigError as err:
        print(err, file=sys.stderr)  # noqa: T201 (the operator reads this on the console)
        raise SystemExit(2) from None


def install(replacement: Services | None) -> None:
    """Use these services in this process (tests), or forget them with None."""
    global _current
    with _lock:
        _current = replacement
