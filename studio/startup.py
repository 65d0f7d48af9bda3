"""Bringing a process's services up: the app (`studio/ui/shell/server.py`) and `worker.py` call `start()`."""

from __future__ import annotations

import logging

from studio import bootstrap, logs
from studio.adapters.queue import InProcessQueue
from studio.duties import Duties
from studio.services.billing import plans
from studio.services.context import Services
from studio.services.generation import catalogue
from studio.services.prompts import styles

log = logging.getLogger(__name__)


def start() -> Services:
    """Migrate, seed the model catalogue, the plans and the style modifiers, and start the job runner. In
    embedded mode, where the app runs the jobs, it also runs the periodic passes (`studio.duties`;
    `worker.py` runs them in production)."""
    current = bootstrap.services()
    logs.configure(current.settings.log_level, current.settings.log_format)
    current.database.migrate()
    catalogue.sync_catalogue(current)
    plans.sync_plans(current)
    styles.sync_defaults(current)
    current.queue.start()
    if isinstance(current.queue, InProcessQueue):
        duties = Duties(current)
        duties.start()
        current.stoppers.append(duties.stop)
    log.info("studio started: %s", current.settings.describe())
    return current
