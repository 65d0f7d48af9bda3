"""The billing tests' services: embedded, never started (no job runner), migrated, the plans seeded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.services.context import Services
from tests.support.services import embedded_settings, migrated


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Services]:
    with migrated(embedded_settings(tmp_path / "data")) as services:
        yield services
