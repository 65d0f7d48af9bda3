"""Logging of the studio's own loggers (`studio.*`) to stderr, at LOG_LEVEL, as one JSON object a line.

Fields passed with `extra=` (job_id, user_id, actor_id, action, ...) become keys of the object, so a log
search can follow one job or one user. LOG_FORMAT=text gives the classic one-line format for a terminal.

Nothing secret reaches a log: `Redact` blanks every extra field whose name says it holds a secret
(password, token, secret, key, cookie, authorization ...) and masks secret-looking values inside messages
(`password=...`, bearer tokens, Stripe and fal keys, URLs with a password).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "message"]
MASK = "[redacted]"

_SECRET_NAME = re.compile(
    r"pass(word)?|passwd|secret|token|api[_-]?key|^key$|_key$|cookie|authorization|credential|signature|otp",
    re.I,
)
_SECRET_VALUES = [
    re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})"),
    # name=value and name: value pairs whose name says secret
    re.compile(
        r"(?i)\b(password|passwd|secret|token|api[_-]?key|authorization|cookie|fal_key|secret_key)"
        r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
    ),
    re.compile(r"()()\b((?:sk|rk|pk|whsec)_(?:live|test)?_?[A-Za-z0-9]{8,})"),  # Stripe keys and secrets
    re.compile(r"(://[^/\s:@]+:)()([^@\s/]+)(?=@)"),  # the password of a URL
]
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def redact_text(text: str) -> str:
    """`text` with every secret-looking value replaced by [redacted]."""
    for pattern in _SECRET_VALUES:
        text = pattern.sub(lambda match: f"{match.group(1)}{match.group(2)}{MASK}", text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: MASK if isinstance(key, str) and _SECRET_NAME.search(key) else _clean(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


class Redact(logging.Filter):
    """Blanks secret fields and masks secret values in the message, its arguments and every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact_text(message), None
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD:
                continue
            record.__dict__[name] = MASK if _SECRET_NAME.search(name) else _clean(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


class _JsonFormatter(JsonFormatter):
    """JSON lines whose tracebacks are redacted too (the formatter renders them itself)."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redact_text(str(super().formatException(ei)))


class _StudioHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module added, so configuring twice adds nothing."""


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    return _JsonFormatter(
        JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"}, timestamp=False
    )


def configure(level: str, log_format: str = "json") -> None:
    logger = logging.getLogger("studio")
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if isinstance(h, _StudioHandler)), None)
    if handler is None:
        handler = _StudioHandler()
        handler.addFilter(Redact())
        logger.addHandler(handler)
    handler.setFormatter(formatter(log_format))
