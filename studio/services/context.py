"""What every use case receives: the adapters of this process, built once by `studio.bootstrap`.

The container's type lives here, with the services, so that the composition root imports the services and
never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from studio.adapters.attempts import Attempts
from studio.adapters.db import Database, SqlUnitOfWork
from studio.adapters.mail import Mailer
from studio.adapters.payments import Payments
from studio.adapters.provider import Provider
from studio.adapters.queue import JobQueue
from studio.adapters.ratelimit import LimitsRateLimiter, RateLimiter
from studio.adapters.storage import ObjectStorage
from studio.errors import RateLimited
from studio.services.urls import UrlCache
from studio.settings import Settings


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins counted per account and per client address (see studio.adapters.attempts)."""

    account: Attempts
    client: Attempts


@dataclass
class Services:
    settings: Settings
    database: Database
    storage: ObjectStorage
    queue: JobQueue
    mailer: Mailer
    #: A new provider client for one job run, by name ("fal" or "demo"), made inside the worker process.
    make_provider: Callable[[str], Provider]
    sign_in_limits: SignInLimits
    #: SECRET_KEY, or the generated key of embedded mode: signs session cookies and local file links.
    secret: str
    #: Stripe when STRIPE_SECRET_KEY is set; None means payments are off and admins assign plans.
    payments: Payments | None = None
    #: The signed URLs of stored files, cached below their expiry (one cache for every page and route).
    files: UrlCache = field(init=False)
    #: What `close` stops first: threads started with these services (`studio.duties` in embedded mode).
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    #: Rate limits: Redis-backed in production, in memory in embedded mode.
    limiter: RateLimiter = field(default_factory=lambda: LimitsRateLimiter("memory://"))

    def limit(self, rules: str, what: str, *keys: str) -> None:
        """One more of `what` for `keys`; RateLimited when `rules` are exceeded (nothing counted then)."""
        wait = self.limiter.hit(rules, what, *keys)
        if wait is not None:
            raise RateLimited(what, wait)

    def __post_init__(self) -> None:
        self.files = UrlCache(self.storage)

    def uow(self) -> SqlUnitOfWork:
        return self.database.uow()

    def close(self) -> None:
        for stop in reversed(self.stoppers):
            stop()
        self.queue.stop()
        self.database.dispose()
