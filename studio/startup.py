"""Bringing a process's services up: the app (`studio/ui/shell/server.py`) and `worker.py` call `start()`."""

from __future__ import annotations

import logging

from studio import bootstrap, logs
from studio.services import dispatch
from studio.services.billing import plans
from studio.services.context import Services
from studio.services.generation import catalogue

log = logging.getLogger(__name__)


def start() -> Services:
    """Migrate, seed the model catalogue and the plans, start the job runner and schedule the periodic
    passes (the reconciler, the renewals, the trash purge and the analytics roll-ups)."""
    current = bootstrap.services()
    logs.configure(current.settings.log_level, current.settings.log_format)
    current.database.migrate()
    catalogue.sync_catalogue(current)
    plans.sync_plans(current)
    current.queue.start()
    dispatch.schedule_passes(current)
    log.info("studio started: %s", current.settings.describe())
    return current
