"""The studio's exceptions.

Services raise these; pages turn them into messages and routes into status codes.

    StudioError
    ├── ConfigError        settings missing, placeholder or inconsistent
    ├── NotFound           no such record or object (or not yours)
    ├── Forbidden          signed in, but not allowed
    │   └── PasswordRequired   a share link with a password, opened without it
    ├── InvalidInput       the request itself is wrong; the message says how
    │   ├── InvalidParameters  a model's parameters: not accepted, or out of range
    │   └── InvalidForm        a form's fields: one message per problem
    ├── WrongCredentials   a sign-in or password check failed (never says which part was wrong)
    ├── TooManyAttempts    locked or slowed down after failures; says when to try again
    ├── InsufficientCredits    the request costs more credits than the account has
    ├── ProviderError      the image provider failed; `code` (a ProviderFailure) says how
    ├── PaymentError       payments (Stripe) failed
    │   ├── PaymentsUnavailable  Stripe could not be reached or refused the request; nothing was charged
    │   ├── BadSignature         a webhook whose signature does not verify
    │   └── WebhookNotHandled    a verified webhook could not be applied; Stripe delivers it again
    ├── StorageError       the object store failed
    ├── QueueError         the job queue failed or refused a job
    └── MailError          a message could not be handed to the mail system

Routes map them to status codes (`studio.web`); services never speak HTTP.
"""

from datetime import date
from enum import StrEnum


class StudioError(Exception):
    """Base of every error the studio raises on purpose."""


class ConfigError(StudioError):
    """The settings cannot run the studio; the message names the setting."""


class NotFound(StudioError):
    """The record or object does not exist, or is not visible to the caller."""


class Forbidden(StudioError):
    """The caller is known but may not do this."""


class PasswordRequired(Forbidden):
    """The share link asks for a password and none (or a wrong one) was given."""


class InvalidInput(StudioError):
    """The input is wrong; the message says what is expected."""


class StorageError(StudioError):
    """The object store could not complete an operation."""


class QueueError(StudioError):
    """The job queue could not accept or run a job."""


class MailError(StudioError):
    """A message could not be handed to the mail system."""


class RateLimited(StudioError):
    """Too many of one thing in too short a time; `retry_after` seconds until the next one is taken."""

    def __init__(self, what: str, retry_after: float) -> None:
        seconds = max(1, round(retry_after))
        wait = f"{seconds} s" if seconds < 120 else f"{round(seconds / 60)} min"
        super().__init__(f"Too many {what} in a short time: try again in {wait}.")
        self.retry_after = seconds


class InvalidParameters(InvalidInput):
    """Parameters a model does not accept or outside its range; one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class InvalidForm(InvalidInput):
    """A form's fields are wrong; one message per problem, in the order of the fields."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class WrongCredentials(StudioError):
    """A password (or code) did not match; the message never says whether the account exists."""


class TooManyAttempts(StudioError):
    """Too many failures or requests; `retry_after` is the number of seconds to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InsufficientCredits(StudioError):
    """The account has fewer credits than the request costs. Never any overage: upgrade or wait."""

    def __init__(self, needed: int, available: int, renews_on: date | None = None) -> None:
        super().__init__(quota_message(needed, available, renews_on))
        self.needed = needed
        self.available = available
        self.renews_on = renews_on


def quota_message(needed: int, available: int, renews_on: date | None) -> str:
    """What every refusal for want of credits says, wherever it happens."""
    when = (
        f"wait until {renews_on:%d %B %Y}, when your credits renew" if renews_on else "wait for your renewal"
    )
    return (
        f"This uses {needed} credit{'s' if needed != 1 else ''} and you have {available}. "
        f"Upgrade your plan, or {when}."
    )


class ProviderFailure(StrEnum):
    """How the provider failed; the value is what a failed job records as its error code."""

    AUTH = "auth"  # our credentials were refused: an administrator must fix FAL_KEY
    INVALID = "invalid"  # the model refused the parameters
    UNAVAILABLE = "unavailable"  # unreachable or overloaded; trying again may help
    BAD_OUTPUT = "bad_output"  # it answered with something that is not a usable result
    FAILED = "failed"  # any other failure


class ProviderError(StudioError):
    """The image provider failed; `code` says how, `retryable` whether trying again may help."""

    def __init__(self, message: str, *, code: ProviderFailure, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class PaymentError(StudioError):
    """Payments failed: Stripe, or a webhook from it."""


class PaymentsUnavailable(PaymentError):
    """Stripe could not be reached or refused the request; nothing was charged."""


class BadSignature(PaymentError):
    """A webhook whose signature does not verify (wrong secret, altered body or too old)."""


class WebhookNotHandled(PaymentError):
    """A verified webhook failed while it was applied; it stays recorded with why, and Stripe retries it."""
