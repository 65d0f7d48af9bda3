"""The admin tests' services: embedded, migrated, with jobs recorded by a FakeQueue; on SQLite and on
PostgreSQL (rolled back), the catalogue synced on each."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.services.context import Services
from studio.services.generation import catalogue
from tests.support.fakes import FakeQueue
from tests.support.services import embedded_settings, installed


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Services]:
    with installed(embedded_settings(tmp_path / "data"), start=False) as services:
        services.database.migrate()
        yield dataclasses.replace(services, queue=FakeQueue(queue_names=services.settings.queue_names))


@pytest.fixture(params=["sqlite", "postgres"])
def studio(request: pytest.FixtureRequest, embedded: Services) -> Services:
    if request.param == "sqlite":
        services = embedded
    else:
        services = dataclasses.replace(embedded, database=request.getfixturevalue("postgres_db"))
    catalogue.sync_catalogue(services)
    return services
