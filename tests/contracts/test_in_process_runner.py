"""The in-process runner keeps jobs alive beyond the session that asked and beyond a crash of the app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.adapters.queue import InProcessQueue
from studio.errors import QueueError
from studio.services.context import Services
from tests.support import queue_jobs
from tests.support.env import ROOT, wait_for


@pytest.fixture
def log(tmp_path: Path) -> str:
    return str(tmp_path / "runs.log")


def test_a_job_killed_with_its_process_runs_again_after_a_restart(tmp_path: Path, log: str) -> None:
    state = tmp_path / "jobs"
    app = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from studio.adapters.queue import InProcessQueue
        from tests.support import queue_jobs
        queue = InProcessQueue(Path({str(state)!r}), workers=1)
        queue.start()
        queue.enqueue(queue_jobs.wait_for_gate, {log!r}, "survivor", job_id="survivor-1")
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", app], cwd=ROOT)
    try:
        wait_for(lambda: queue_jobs.runs(log) == ["survivor:started"], timeout=20)
        os.kill(process.pid, signal.SIGKILL)  # the app dies in the middle of the job
        process.wait(10)
    finally:
        process.kill()
    assert (state / "pending" / "survivor-1.json").exists()

    restarted = InProcessQueue(state, workers=1)
    queue_jobs.gates["survivor"] = gate = threading.Event()
    try:
        restarted.start()
        wait_for(lambda: queue_jobs.runs(log).count("survivor:started") == 2)
        gate.set()
        wait_for(lambda: queue_jobs.runs(log)[-1] == "survivor:done")
    finally:
        gate.set()
        restarted.stop()
    assert not (state / "pending" / "survivor-1.json").exists()


def test_a_job_outlives_the_streamlit_session_that_enqueued_it(embedded_services: Services, log: str) -> None:
    def page(log: str) -> None:
        from studio import bootstrap
        from tests.support import queue_jobs

        bootstrap.services().queue.enqueue(queue_jobs.sleep_then_record, log, "after the session", 0.3)

    session = AppTest.from_function(page, kwargs={"log": log})
    session.run()
    assert not session.exception
    del session  # the browser session is gone; the job is not
    wait_for(lambda: queue_jobs.runs(log) == ["after the session"])


def test_a_failed_job_is_kept_with_its_traceback(
    in_process_queue: InProcessQueue, tmp_path: Path, log: str
) -> None:
    in_process_queue.start()
    in_process_queue.enqueue(queue_jobs.fail, log, "broken", job_id="broken-1")
    wait_for(lambda: in_process_queue.stats().failed == 1)
    failed = json.loads((tmp_path / "jobs" / "failed" / "broken-1.json").read_text())
    assert failed["func"] == "tests.support.queue_jobs.fail"
    assert "job broken failed on purpose" in failed["error"]
    assert not (tmp_path / "jobs" / "pending" / "broken-1.json").exists()


def test_an_unreadable_pending_job_is_set_aside_not_fatal(tmp_path: Path, log: str) -> None:
    pending = tmp_path / "jobs" / "pending"
    pending.mkdir(parents=True)
    (pending / "garbled.json").write_text("{not json")
    queue = InProcessQueue(tmp_path / "jobs", workers=1)
    try:
        queue.start()
        queue.enqueue(queue_jobs.record, log, "still runs")
        wait_for(lambda: queue_jobs.runs(log) == ["still runs"])
    finally:
        queue.stop()
    assert (tmp_path / "jobs" / "failed" / "garbled.json").exists()


def test_check_fails_once_stopped(in_process_queue: InProcessQueue) -> None:
    with pytest.raises(QueueError):
        in_process_queue.check()  # not started yet
    in_process_queue.start()
    in_process_queue.check()
    in_process_queue.stop()
    with pytest.raises(QueueError):
        in_process_queue.check()


def test_several_workers_run_jobs_at_the_same_time(tmp_path: Path, log: str) -> None:
    queue = InProcessQueue(tmp_path / "jobs", workers=3)
    gates = [f"parallel-{n}" for n in range(3)]
    try:
        queue.start()
        for name in gates:
            queue.enqueue(queue_jobs.wait_for_gate, log, name)
        wait_for(lambda: sum(line.endswith(":started") for line in queue_jobs.runs(log)) == 3)
        assert queue.stats().running == 3
    finally:
        for name in gates:
            queue_jobs.gates.setdefault(name, threading.Event()).set()
        queue.stop()
