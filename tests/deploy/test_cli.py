"""`python -m studio check|migrate` and the app launcher refusing unusable settings."""

from __future__ import annotations

import sys
from pathlib import Path

from studio.adapters.db import Database, migrate
from tests.support.env import ROOT, free_port, run_clean

PLACEHOLDER_PRODUCTION = {"DATABASE_URL": "postgresql://studio:change-me@127.0.0.1/studio"}


def test_check_reports_embedded_mode(tmp_path: Path) -> None:
    result = run_clean([sys.executable, "-m", "studio", "check"], {"DATA_DIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip()
        == "mode: embedded, database: sqlite, jobs: in-process, storage: local, mail: outbox, "
        "provider: demo, payments: off"
    )


def test_check_names_every_bad_setting(tmp_path: Path) -> None:
    result = run_clean([sys.executable, "-m", "studio", "check"], PLACEHOLDER_PRODUCTION, tmp_path)
    assert result.returncode == 2
    assert "SECRET_KEY is missing" in result.stderr
    assert "DATABASE_URL contains a placeholder password" in result.stderr


def test_migrate_brings_the_schema_to_the_latest_revision(tmp_path: Path) -> None:
    result = run_clean([sys.executable, "-m", "studio", "migrate"], {"DATA_DIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 0, result.stderr
    database = Database.from_url(f"sqlite:///{tmp_path / 'studio.db'}")
    try:
        assert migrate.current_revision(database.engine) == migrate.head_revision()
    finally:
        database.dispose()


def test_the_app_refuses_to_start_with_a_placeholder_secret(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "studio" / "ui" / "shell" / "server.py")]
    command += [
        "--server.port",
        str(free_port()),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    result = run_clean(command, PLACEHOLDER_PRODUCTION | {"DATA_DIR": str(tmp_path)}, tmp_path, timeout=60)
    assert result.returncode == 2
    assert "The studio cannot start with these settings" in result.stderr
    assert "SECRET_KEY" in result.stderr
    assert "DATABASE_URL contains a placeholder password" in result.stderr


def test_check_names_an_unreadable_value(tmp_path: Path) -> None:
    result = run_clean([sys.executable, "-m", "studio", "check"], {"JOB_CONCURRENCY": "lots"}, tmp_path)
    assert result.returncode == 2
    assert "JOB_CONCURRENCY: Input should be a valid integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_worker_without_redis_leaves_no_files_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run_clean([sys.executable, str(ROOT / "worker.py")], {"DATA_DIR": str(data)}, tmp_path)
    assert result.returncode == 2
    assert not data.exists()
