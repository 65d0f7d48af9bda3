"""The embedded studio in a process of its own, for crash tests: `python -m tests.support.embedded_app DIR
submit N` starts it (the in-process runner and its duties), submits N jobs of one account, says "ready" once
one of them is running, then serves on until killed; `... DIR resume` starts it again on the same data
directory and prints what became of every job once none is left unfinished (as JSON, one line).

Settings come from the environment (JOB_STALE_SECONDS, FAL_KEY, the fake fal's hosts ...) plus DATA_DIR.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from studio import bootstrap, startup
from studio.adapters.db.models import CreditLedger, GenerationJob, User, utcnow
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation.submissions import start_generation
from studio.settings import Settings

EMAIL = "crash@example.test"


def _jobs(services: Services) -> list[GenerationJob]:
    with services.uow() as uow:
        jobs = list(uow.session.scalars(sa.select(GenerationJob).order_by(GenerationJob.created_at)))
        uow.session.expunge_all()
        return jobs


def submit(services: Services, count: int) -> None:
    from studio.domain.credits import LedgerKind

    with services.uow() as uow:
        user = User(id=uuid.uuid4(), email=EMAIL, username="crash", name="Crash", email_verified_at=utcnow())
        uow.session.add(user)
        uow.session.flush()
        ledger.change_balance(uow.session, user.id, 100, LedgerKind.ADJUST, "crash test credits")
        uow.commit()
        user_id = user.id
    for n in range(count):
        start_generation(services, user_id, Request("fal-ai/flux/schnell", f"a crash test {n}"), f"k{n}")
    while not any(job.status == JobStatus.RUNNING.value for job in _jobs(services)):
        time.sleep(0.2)
    print("ready", flush=True)
    while True:
        time.sleep(1)


def _all_finished(services: Services) -> bool:
    try:
        return all(JobStatus(job.status).finished for job in _jobs(services))
    except OperationalError:  # SQLite busy with the job threads' writes: ask again
        return False


def resume(services: Services) -> None:
    while not _all_finished(services):
        time.sleep(0.5)
    jobs = _jobs(services)
    with services.uow() as uow:  # one transaction at a time: SQLite's write lock is taken at BEGIN
        user_id = uow.session.scalar(sa.select(User.id).where(User.email == EMAIL))
        assert user_id is not None
        kinds = uow.session.execute(sa.select(CreditLedger.job_id, CreditLedger.kind)).all()
        summary = {
            "statuses": [job.status for job in jobs],
            "attempts": [job.attempts for job in jobs],
            "ledger": sorted(f"{job_id}:{kind}" for job_id, kind in kinds if job_id),
            "jobs": [str(job.id) for job in jobs],
            "balance": ledger.balance(uow.session, user_id),
            "ledger_sum": ledger.ledger_sum(uow.session, user_id),
        }
    print(json.dumps(summary), flush=True)


def main(data_dir: str, mode: str, count: str = "0") -> None:
    bootstrap.install(bootstrap.build_services(Settings(data_dir=Path(data_dir))))
    services = startup.start()
    if mode == "submit":
        submit(services, int(count))
    else:
        resume(services)
        services.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
