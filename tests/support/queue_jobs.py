"""Job functions for the queue tests: importable, module-level, taking only JSON values."""

from __future__ import annotations

import threading
import time
from pathlib import Path

#: Lets a test hold a job in the middle of running (in-process runner only).
gates: dict[str, threading.Event] = {}


def record(path: str, value: str) -> None:
    """Append `value` to the file at `path` (one line per run)."""
    with Path(path).open("a") as handle:
        handle.write(value + "\n")


def fail(path: str, value: str) -> None:
    record(path, value)
    raise RuntimeError(f"job {value} failed on purpose")


def wait_for_gate(path: str, value: str) -> None:
    """Record `value`, then block until the test opens gates[value] (or 30 s pass)."""
    record(path, f"{value}:started")
    gates.setdefault(value, threading.Event()).wait(30)
    record(path, f"{value}:done")


def sleep_then_record(path: str, value: str, seconds: float) -> None:
    time.sleep(seconds)
    record(path, value)


def runs(path: str) -> list[str]:
    file = Path(path)
    return file.read_text().splitlines() if file.exists() else []
