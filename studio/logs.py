"""Logging of the studio's own loggers (`studio.*`) to stderr, at LOG_LEVEL."""

from __future__ import annotations

import logging

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StudioHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module added, so configuring twice adds nothing."""


def configure(level: str) -> None:
    logger = logging.getLogger("studio")
    logger.setLevel(level)
    if not any(isinstance(handler, _StudioHandler) for handler in logger.handlers):
        handler = _StudioHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
