"""worker.py: real RQ worker processes on the real Redis and PostgreSQL, with the app's settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from studio.adapters.queue import RQQueue
from tests.support import queue_jobs
from tests.support.env import ROOT, TEST_SECRET, run_clean
from worker import alive_on_this_host

WORKER = str(ROOT / "worker.py")


def run_worker(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_clean([sys.executable, WORKER, *args], env, cwd)


def test_without_redis_url_the_worker_explains_and_exits(tmp_path: Path) -> None:
    result = run_worker({"DATA_DIR": str(tmp_path)}, tmp_path)
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr
    assert "embedded mode" in result.stderr


def test_a_placeholder_secret_stops_the_worker(tmp_path: Path, redis_url: str) -> None:
    result = run_worker(
        {"REDIS_URL": redis_url, "SECRET_KEY": "change-me", "DATA_DIR": str(tmp_path)}, tmp_path
    )
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr
    assert "change-me" not in result.stderr  # never echo a secret, even a placeholder


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_worker_runs_queued_jobs_from_the_app(
    tmp_path: Path, redis_conn: Redis, redis_url: str, postgres_url: str, workers: str
) -> None:
    log = str(tmp_path / "runs.log")
    queue = RQQueue(redis_conn, ("high", "default", "low"))
    queue.enqueue(queue_jobs.record, log, "first")
    queue.enqueue(queue_jobs.record, log, "urgent", queue="high")
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": postgres_url,
        "SECRET_KEY": TEST_SECRET,
        "DATA_DIR": str(tmp_path),
    }
    result = run_worker(env, tmp_path, "--burst", "--workers", workers)
    assert result.returncode == 0, result.stderr
    assert sorted(queue_jobs.runs(log)) == ["first", "urgent"]
    assert queue.stats().queued == 0


def test_check_reports_whether_a_worker_on_this_host_is_alive(
    tmp_path: Path, redis_conn: Redis, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url, "SECRET_KEY": TEST_SECRET, "DATA_DIR": str(tmp_path)}
    assert run_worker(env, tmp_path, "--check").returncode == 1
    worker = Worker(["default"], connection=redis_conn)
    worker.register_birth()  # type: ignore[no-untyped-call]
    worker.heartbeat()
    try:
        assert alive_on_this_host(redis_conn)
        assert run_worker(env, tmp_path, "--check").returncode == 0
    finally:
        worker.register_death()  # type: ignore[no-untyped-call]
    assert not alive_on_this_host(redis_conn)
