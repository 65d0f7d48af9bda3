"""The studio's exceptions.

Services raise these; pages turn them into messages and routes into status codes.

    StudioError
    ├── ConfigError        settings missing, placeholder or inconsistent
    ├── NotFound           no such record or object (or not yours)
    ├── Forbidden          signed in, but not allowed
    ├── InvalidInput       the request itself is wrong; the message says how
    ├── StorageError       the object store failed
    ├── QueueError         the job queue failed or refused a job
    └── MailError          a message could not be handed to the mail system
"""


class StudioError(Exception):
    """Base of every error the studio raises on purpose."""


class ConfigError(StudioError):
    """The settings cannot run the studio; the message names the setting."""


class NotFound(StudioError):
    """The record or object does not exist, or is not visible to the caller."""


class Forbidden(StudioError):
    """The caller is known but may not do this."""


class InvalidInput(StudioError):
    """The input is wrong; the message says what is expected."""


class StorageError(StudioError):
    """The object store could not complete an operation."""


class QueueError(StudioError):
    """The job queue could not accept or run a job."""


class MailError(StudioError):
    """A message could not be handed to the mail system."""
