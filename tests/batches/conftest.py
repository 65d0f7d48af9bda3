"""The batch tests' services: embedded and never started, so no job runner and no duty thread dispatches or
runs a job behind a test's back; jobs recorded by a FakeQueue. On SQLite, then on PostgreSQL (rolled back),
with the catalogue and the plans seeded on each and eight provider slots (GENERATION_SLOTS)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.services.billing.plans import sync_plans
from studio.services.context import Services
from studio.services.generation import catalogue, eta
from tests.support.fakes import FakeQueue
from tests.support.services import embedded_settings, installed


@pytest.fixture(params=["sqlite", "postgres"])
def studio(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    # The measured latencies are cached per process: an earlier test's jobs must not change this one's ETAs.
    monkeypatch.setattr(eta, "_cache", {})
    with installed(embedded_settings(tmp_path / "data", generation_slots=8), start=False) as embedded:
        services = dataclasses.replace(embedded, queue=FakeQueue(queue_names=embedded.settings.queue_names))
        if request.param == "sqlite":
            services.database.migrate()
        else:
            services = dataclasses.replace(services, database=request.getfixturevalue("postgres_db"))
        catalogue.sync_catalogue(services)
        sync_plans(services)
        yield services
