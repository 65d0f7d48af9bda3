"""The one rule that picks a queue from a priority (what the generation, mail, export, download and the
periodic passes used to decide each on their own)."""

from __future__ import annotations

import uuid

import pytest

from studio.services import dispatch
from studio.settings import Settings


@pytest.mark.parametrize(
    ("queues", "priority", "chosen"),
    [
        ("high,default,low", dispatch.URGENT, "high"),
        ("high,default,low", dispatch.NORMAL, "default"),
        ("high,default,low", dispatch.BACKGROUND, "low"),
        ("default,low", dispatch.URGENT, "default"),  # no high queue: the normal one
        ("default", dispatch.BACKGROUND, "default"),  # no low queue: the last one
        ("fast,slow", dispatch.NORMAL, "fast"),  # no default queue: the first one
        ("fast,slow", dispatch.BACKGROUND, "slow"),
    ],
)
def test_the_queue_of_each_priority(queues: str, priority: int, chosen: str) -> None:
    settings = Settings(_env_file=None, worker_queues=queues)
    assert dispatch.queue_for(settings, priority) == chosen


def test_a_generation_attempt_has_a_queue_id_of_its_own() -> None:
    job = uuid.uuid4()
    assert dispatch.generation_queue_id(job, 1) != dispatch.generation_queue_id(job, 2)
