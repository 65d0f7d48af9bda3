"""The studio's services for a test: embedded settings, installed as this process's own (what pages and
routes get) and torn down after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from studio import bootstrap, startup
from studio.services.billing import plans
from studio.services.context import Services
from studio.settings import Settings


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


@contextmanager
def installed(settings: Settings, *, start: bool = True) -> Iterator[Services]:
    """The services of `settings` as this process's own, started as the app starts them unless `start` is
    False, and closed after."""
    services = bootstrap.build_services(settings)
    bootstrap.install(services)
    try:
        if start:
            startup.start()
        yield services
    finally:
        bootstrap.install(None)
        services.close()


@contextmanager
def migrated(settings: Settings) -> Iterator[Services]:
    """Installed services that were never started (no job runner), the schema migrated, the plans seeded."""
    with installed(settings, start=False) as services:
        services.database.migrate()
        plans.sync_plans(services)
        yield services
