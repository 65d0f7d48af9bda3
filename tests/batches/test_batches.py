"""Batches on SQLite and on PostgreSQL (`studio`): the cost preview, making a batch (one reserved job per
row, all or none), cancel and retry with their refunds, the fallback model, the views and the export.

No worker runs: a job's outcome is played with `tests.support.batches` (finish, end, at_provider), as a
worker would leave it. The fair queue's order is in test_fair_queue.py.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa

from studio.adapters.db.models import Batch, CreditLedger, GenerationJob, utcnow
from studio.domain.batches import Row, RowsError, Source, seed_grid
from studio.domain.credits import LedgerKind
from studio.domain.generation import JobStatus
from studio.domain.parameters import Request
from studio.errors import InsufficientCredits, InvalidInput, InvalidParameters, NotFound
from studio.services.batches import control, export, runs, views
from studio.services.context import Services
from studio.services.generation import fair, submissions
from studio.services.prompts import wildcards
from tests.support.batches import (
    SCHNELL,
    SQUARE,
    ULTRA,
    at_provider,
    batch_row,
    count,
    draft,
    end,
    finish,
    jobs_of,
    put_on_plan,
)
from tests.support.builders import ledger_counts, new_user
from tests.support.stack import assert_balanced

TWO = {"image_size": "square", "num_images": 2}  # 2 credits a row


def reserves(services: Services, user_id: uuid.UUID) -> Counter[uuid.UUID | None]:
    """How many reserve rows each job of the account has."""
    with services.uow() as uow:
        return Counter(
            uow.session.scalars(
                sa.select(CreditLedger.job_id).where(
                    CreditLedger.user_id == user_id, CreditLedger.kind == LedgerKind.RESERVE.value
                )
            )
        )


def refunds(services: Services, user_id: uuid.UUID) -> dict[tuple[str, int], int]:
    """The account's refund rows as (kind, delta), counted."""
    return {key: n for key, n in ledger_counts(services, user_id).items() if key[0] == "refund"}


# --- the preview ---------------------------------------------------------------------------------------


def test_the_preview_prices_every_row_and_queues_nothing(studio: Services) -> None:
    owner = new_user(studio, "ada", free_plan=True)
    rows = [Row("a red fox"), Row("an owl", params={"num_images": 3}), Row("a deer", model=ULTRA, seed=5)]
    shown = runs.preview(studio, owner, draft(rows))
    assert [(r.number, r.prompt, r.model, r.seed, r.images, r.credits) for r in shown.rows] == [
        (1, "a red fox", "FLUX.1 [schnell]", None, 1, 1),
        (2, "an owl", "FLUX.1 [schnell]", None, 3, 3),
        (3, "a deer", "FLUX1.1 [pro] ultra", 5, 1, 3),  # ultra takes no image_size: it is left behind
    ]
    assert (shown.jobs, shown.images, shown.credits, shown.balance) == (3, 5, 7, 100)
    assert (shown.plan_name, shown.allowance.batch_jobs, shown.allowance.slots) == ("Free", 50, 2)
    assert shown.problems == []
    assert (shown.ready, shown.affordable, shown.fits) == (True, True, 3)
    # Nothing measured yet: each model's expected time, mean 13/3 s a job; two slots, so two rounds.
    assert shown.eta_seconds == pytest.approx(2 * (1.5 + 1.5 + 10.0) / 3)
    assert count(studio, GenerationJob) == count(studio, Batch) == 0
    assert_balanced(studio, owner, 100)


def test_the_preview_says_how_many_first_rows_fit_the_balance(studio: Services) -> None:
    owner = new_user(studio, credits=5)
    shown = runs.preview(studio, owner, draft([f"fox {n}" for n in range(4)], params=TWO))
    assert (shown.credits, shown.balance, shown.affordable, shown.fits, shown.ready) == (8, 5, False, 2, True)


def test_a_batch_over_the_plans_size_is_refused_and_the_form_says_the_limit(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    big = draft([f"a fox, take {n}" for n in range(51)])
    shown = runs.preview(studio, owner, big)
    assert shown.allowance.batch_jobs == 50
    assert shown.problems == ["This batch has 51 jobs; your plan runs batches of up to 50."]
    assert not shown.ready
    with pytest.raises(InvalidParameters, match="your plan runs batches of up to 50"):
        runs.start_batch(studio, owner, big, "too-big")
    assert count(studio, GenerationJob) == count(studio, Batch) == 0
    assert_balanced(studio, owner, 100)
    assert runs.preview(studio, owner, draft([f"a fox, take {n}" for n in range(50)])).ready
    put_on_plan(studio, owner, "starter")
    bigger = runs.preview(studio, owner, big)
    assert (bigger.plan_name, bigger.allowance.batch_jobs, bigger.problems) == ("Starter", 200, [])


def test_every_row_with_a_problem_is_named_and_the_batch_is_refused(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    rows = [
        Row("a fine fox"),
        Row("a strict owl", params={"guidance_scale": 99}),
        Row("a deer", model="fal-ai/no-such-model"),
        Row("a hare", params={"no_such_param": 1}),
    ]
    shown = runs.preview(studio, owner, draft(rows, name=""))
    assert shown.problems[0] == "Give the batch a name."
    assert [problem.split(":")[0] for problem in shown.problems[1:]] == ["Row 2", "Row 3", "Row 4"]
    assert "Guidance (guidance_scale) must be between 1 and 20" in shown.problems[1]
    assert shown.problems[2] == "Row 3: The model 'fal-ai/no-such-model' is not available."
    assert "no_such_param" in shown.problems[3]
    assert [row.credits for row in shown.rows] == [1, 0, 0, 0]
    assert not shown.ready
    with pytest.raises(InvalidParameters) as caught:
        runs.start_batch(studio, owner, draft(rows), "bad-rows")
    assert [problem.split(":")[0] for problem in caught.value.problems] == ["Row 2", "Row 3", "Row 4"]
    # A fallback that cannot stand in for the batch's model is a problem of each row.
    upscaler = runs.preview(studio, owner, draft(["a fox"], fallback_model="fal-ai/clarity-upscaler"))
    assert [problem[:7] for problem in upscaler.problems] == ["Row 1: "]
    assert count(studio, GenerationJob) == count(studio, Batch) == 0
    assert_balanced(studio, owner, 100)


def test_a_template_in_all_combinations_mode_makes_one_row_each(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    wildcards.save(studio, owner, "animal", "fox\nowl")
    rows = runs.template_rows(studio, owner, "a {red|grey} __animal__", {}, cap=50)
    assert sorted(row.prompt for row in rows) == ["a grey fox", "a grey owl", "a red fox", "a red owl"]
    shown = runs.preview(studio, owner, draft(rows, source=Source.TEMPLATE))
    assert (shown.jobs, shown.credits, shown.problems) == (4, 4, [])
    with pytest.raises(RowsError) as caught:
        runs.template_rows(studio, owner, "a {red|grey} __animal__", {}, cap=3)
    assert caught.value.problems == [
        "This template makes 4 combinations; at most 3 can be listed. Your plan runs batches of up to 3 jobs."
    ]
    with pytest.raises(RowsError, match="cannot be expanded"):
        runs.template_rows(studio, owner, "a {red|grey", {}, cap=50)


# --- starting a batch ----------------------------------------------------------------------------------


def test_a_batch_is_one_reserved_job_per_row_and_its_key_makes_it_once(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    rows = [*seed_grid("a lighthouse", 500, 3), Row("an owl", params={"num_images": 2})]
    batch_id = runs.start_batch(studio, owner, draft(rows, name=" Lighthouses "), "batch-1")
    jobs = jobs_of(studio, batch_id)
    assert [(job.batch_row, job.prompt, job.num_images, job.credits_reserved) for job in jobs] == [
        (1, "a lighthouse", 1, 1),
        (2, "a lighthouse", 1, 1),
        (3, "a lighthouse", 1, 1),
        (4, "an owl", 2, 2),
    ]
    assert all(job.batch_id == batch_id and job.owner_id == owner for job in jobs)
    assert all(job.status == JobStatus.QUEUED.value and job.model_endpoint == SCHNELL for job in jobs)
    assert [job.params["seed"] for job in jobs[:3]] == [500, 501, 502]
    assert isinstance(jobs[3].params["seed"], int)  # picked now, so the row replays exactly
    assert reserves(studio, owner) == Counter({job.id: 1 for job in jobs})
    assert ledger_counts(studio, owner) == Counter(
        {("grant", 100): 1, ("reserve", -1): 3, ("reserve", -2): 1}
    )
    assert_balanced(studio, owner, 95)
    batch = batch_row(studio, batch_id)
    assert (batch.name, batch.source) == ("Lighthouses", "lines")
    assert (batch.rows, batch.images, batch.credits) == (4, 5, 5)
    assert [row["prompt"] for row in batch.request["rows"]] == ["a lighthouse"] * 3 + ["an owl"]
    # The same key (a double click, a retried request) is the same batch.
    assert runs.start_batch(studio, owner, draft(rows), "batch-1") == batch_id
    assert count(studio, GenerationJob) == 4
    assert_balanced(studio, owner, 95)
    assert runs.start_batch(studio, owner, draft(rows[:1]), "batch-2") != batch_id
    assert_balanced(studio, owner, 94)


def test_a_batch_the_account_cannot_pay_for_is_refused_whole_or_fitted_on_request(studio: Services) -> None:
    owner = new_user(studio, credits=5)
    four = draft([f"a fox, take {n}" for n in range(1, 5)], params=TWO)  # 8 credits
    with pytest.raises(InsufficientCredits) as caught:
        runs.start_batch(studio, owner, four, "all-or-nothing")
    assert (caught.value.needed, caught.value.available) == (8, 5)
    assert count(studio, GenerationJob) == count(studio, Batch) == 0
    assert ledger_counts(studio, owner) == Counter({("grant", 5): 1})
    assert_balanced(studio, owner, 5)
    # Knowingly: only the first rows the balance pays for.
    batch_id = runs.start_batch(studio, owner, four, "all-or-nothing", fit=True)
    jobs = jobs_of(studio, batch_id)
    assert [(job.batch_row, job.prompt) for job in jobs] == [(1, "a fox, take 1"), (2, "a fox, take 2")]
    batch = batch_row(studio, batch_id)
    assert (batch.rows, batch.credits, len(batch.request["rows"])) == (2, 4, 2)
    assert_balanced(studio, owner, 1)
    with pytest.raises(InsufficientCredits) as nothing:
        runs.start_batch(studio, owner, four, "none-fits", fit=True)
    assert (nothing.value.needed, nothing.value.available) == (2, 1)
    assert count(studio, Batch) == 1
    assert_balanced(studio, owner, 1)


# --- cancel and retry ----------------------------------------------------------------------------------


def test_cancelling_refunds_every_row_not_yet_started_exactly_once(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    batch_id = runs.start_batch(studio, owner, draft([f"fox {n}" for n in range(5)], params=TWO), "c")
    jobs = jobs_of(studio, batch_id)
    assert [job.dispatched_at is not None for job in jobs] == [True, True, False, False, False]
    at_provider(studio, jobs[0].id)  # at the provider: it finishes
    assert_balanced(studio, owner, 90)
    assert control.cancel(studio, owner, batch_id) == 4  # one sent to a worker but not started, three waiting
    after = {job.id: job for job in jobs_of(studio, batch_id)}
    assert [after[job.id].status for job in jobs] == ["submitted"] + ["cancelled"] * 4
    assert refunds(studio, owner) == {("refund", 2): 4}  # each row not started: its own reservation, once
    assert_balanced(studio, owner, 98)
    view = views.get_batch(studio, owner, batch_id)
    assert (view.cancelled, view.state, view.counts["cancelled"], view.counts["running"]) == (
        True,
        "finishing",
        4,
        1,
    )
    # Again: nothing more is refunded.
    assert control.cancel(studio, owner, batch_id) == 0
    assert refunds(studio, owner) == {("refund", 2): 4}
    assert_balanced(studio, owner, 98)
    with pytest.raises(InvalidInput, match="cancelled"):
        control.pause(studio, owner, batch_id)
    finish(studio, jobs[0].id)
    assert views.get_batch(studio, owner, batch_id).state == "cancelled"
    assert_balanced(studio, owner, 98)


def test_only_the_owner_controls_a_batch(studio: Services) -> None:
    owner, other = new_user(studio, free_plan=True), new_user(studio, free_plan=True)
    batch_id = runs.start_batch(studio, owner, draft(["a fox", "an owl", "a deer"]), "mine")
    for attempt in (control.pause, control.resume, control.cancel, control.retry_failed, views.get_batch):
        with pytest.raises(NotFound):
            attempt(studio, other, batch_id)
    with pytest.raises(NotFound):
        export.contents(studio, other, batch_id)
    assert views.list_batches(studio, other) == []
    assert views.get_batch(studio, owner, batch_id).counts["queued"] == 3


def test_retrying_runs_the_failed_rows_again_reserved_anew(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    batch_id = runs.start_batch(studio, owner, draft(["a fox", "an owl", "a deer"], params=TWO), "r")
    first, second, third = jobs_of(studio, batch_id)
    with pytest.raises(InvalidInput, match="No row of this batch has failed"):
        control.retry_failed(studio, owner, batch_id)
    finish(studio, first.id)
    end(studio, second.id, "invalid")
    assert_balanced(studio, owner, 96)  # 6 reserved, 2 settled, 2 refunded
    assert control.retry_failed(studio, owner, batch_id) == 1
    jobs = jobs_of(studio, batch_id)
    assert [(job.batch_row, job.status) for job in jobs] == [
        (1, "succeeded"),
        (2, "failed"),
        (2, "queued"),
        (3, "queued"),
    ]
    retry = jobs[2]
    assert (retry.prompt, retry.params, retry.credits_reserved) == (second.prompt, second.params, 2)
    assert reserves(studio, owner)[retry.id] == 1
    assert_balanced(studio, owner, 94)
    view = views.get_batch(studio, owner, batch_id)
    assert view.counts == {"queued": 2, "running": 0, "done": 1, "failed": 0, "cancelled": 0}
    assert jobs[3].id == third.id  # a row that has not failed keeps its job
    with pytest.raises(InvalidInput):  # the row's newest job has not failed
        control.retry_failed(studio, owner, batch_id)


def test_a_retry_the_account_cannot_pay_for_is_refused_whole(studio: Services) -> None:
    owner = new_user(studio, credits=3)
    batch_id = runs.start_batch(studio, owner, draft(["a fox", "an owl", "a deer"]), "short")
    first, second, _ = jobs_of(studio, batch_id)
    end(studio, first.id, "unavailable")
    end(studio, second.id, "failed")
    assert_balanced(studio, owner, 2)
    submissions.start_generation(studio, owner, Request(SCHNELL, "a crow", params=dict(SQUARE)), "single")
    assert_balanced(studio, owner, 1)
    with pytest.raises(InsufficientCredits) as caught:
        control.retry_failed(studio, owner, batch_id)
    assert (caught.value.needed, caught.value.available) == (2, 1)
    assert len(jobs_of(studio, batch_id)) == 3
    assert_balanced(studio, owner, 1)


# --- the fallback model ---------------------------------------------------------------------------------


def test_a_row_the_provider_failed_reruns_once_on_the_fallback_model(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    made = draft(["a fox", "an owl", "a deer", "a hare"], fallback_model=ULTRA)
    batch_id = runs.start_batch(studio, owner, made, "fallback")
    unavailable, invalid, cancelled, succeeded = jobs_of(studio, batch_id)
    assert unavailable.fallback_endpoint == ULTRA
    assert batch_row(studio, batch_id).fallback_endpoint == ULTRA
    end(studio, unavailable.id, "unavailable")
    assert_balanced(studio, owner, 97)
    rerun = submissions.fall_back(studio, unavailable.id)
    assert rerun is not None
    assert submissions.fall_back(studio, unavailable.id) is None  # exactly once
    jobs = {job.id: job for job in jobs_of(studio, batch_id)}
    again = jobs[rerun]
    assert (again.model_endpoint, again.fallback_of_id, again.batch_id, again.batch_row) == (
        ULTRA,
        unavailable.id,
        batch_id,
        1,
    )
    assert again.credits_reserved == 3  # the fallback's price, not the failed job's 1
    assert again.params["seed"] == unavailable.params["seed"]  # the same request, as ultra takes it
    assert "image_size" not in again.params
    assert again.fallback_endpoint is None  # a fallback has no fallback of its own
    assert reserves(studio, owner)[rerun] == 1
    assert_balanced(studio, owner, 94)
    end(studio, rerun, "unavailable")
    assert submissions.fall_back(studio, rerun) is None
    # Not the provider's failure: the failure stands.
    end(studio, invalid.id, "invalid")
    end(studio, cancelled.id, "cancelled", JobStatus.CANCELLED)
    assert submissions.fall_back(studio, invalid.id) is None
    assert submissions.fall_back(studio, cancelled.id) is None
    finish(studio, succeeded.id)
    assert submissions.fall_back(studio, succeeded.id) is None
    assert count(studio, GenerationJob, GenerationJob.fallback_of_id.is_not(None)) == 1
    assert len(jobs_of(studio, batch_id)) == 5
    rows = views.batch_rows(studio, owner, batch_id)
    assert [(row.number, row.model_endpoint, row.status.value) for row in rows] == [
        (1, ULTRA, "failed"),  # the row shows its newest run
        (2, SCHNELL, "failed"),
        (3, SCHNELL, "cancelled"),
        (4, SCHNELL, "succeeded"),
    ]
    assert rows[0].fallback_of_id == unavailable.id
    assert_balanced(studio, owner, 99)  # only the image of row 4 was paid for


def test_a_row_at_the_provider_when_its_batch_was_cancelled_gets_no_fallback(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    made = draft(["a fox", "an owl", "a deer"], fallback_model=ULTRA)
    batch_id = runs.start_batch(studio, owner, made, "x")
    running = jobs_of(studio, batch_id)[0]
    at_provider(studio, running.id)
    assert control.cancel(studio, owner, batch_id) == 2
    end(studio, running.id, "unavailable")  # the row at the provider fails there
    assert submissions.fall_back(studio, running.id) is None  # the person cancelled the batch
    assert_balanced(studio, owner, 100)
    view = views.get_batch(studio, owner, batch_id)
    assert (view.state, view.counts["cancelled"], view.counts["failed"]) == ("cancelled", 2, 1)


def test_a_fallback_that_joins_a_batch_as_it_is_cancelled_is_refunded_by_the_next_pass(
    studio: Services,
) -> None:
    owner = new_user(studio, free_plan=True)
    batch_id = runs.start_batch(studio, owner, draft(["a fox"], fallback_model=ULTRA), "race")
    (running,) = jobs_of(studio, batch_id)
    at_provider(studio, running.id)
    end(studio, running.id, "unavailable")
    rerun = submissions.fall_back(studio, running.id)
    assert rerun is not None
    # The cancel's sweep ran before the fallback's row was committed: only the batch is marked.
    with studio.uow() as uow:
        uow.session.execute(sa.update(Batch).where(Batch.id == batch_id).values(cancelled_at=utcnow()))
        uow.commit()
    fair.periodic(studio)  # never sent: cancelled with the rest of its batch, and refunded
    assert fair.dispatch(studio) == 0
    assert {job.id: job.status for job in jobs_of(studio, batch_id)}[rerun] == "cancelled"
    assert ledger_counts(studio, owner)[("refund", 3)] == 1
    assert_balanced(studio, owner, 100)


def test_a_job_without_a_fallback_model_gets_none(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    batch_id = runs.start_batch(studio, owner, draft(["a fox"]), "no-fallback")
    (job,) = jobs_of(studio, batch_id)
    end(studio, job.id, "unavailable")
    assert submissions.fall_back(studio, job.id) is None
    assert submissions.fall_back(studio, uuid.uuid4()) is None
    assert len(jobs_of(studio, batch_id)) == 1


# --- views and export -----------------------------------------------------------------------------------


def test_a_batch_shows_its_counts_progress_rows_and_exports_them(studio: Services) -> None:
    owner = new_user(studio, free_plan=True)
    rows = seed_grid("a lighthouse at dusk", 10, 4)
    batch_id = runs.start_batch(studio, owner, draft(rows, name="Dusk", source=Source.SEEDS, params=TWO), "v")
    one, two, three, _ = (job.id for job in jobs_of(studio, batch_id))
    view = views.get_batch(studio, owner, batch_id)
    assert (view.name, view.source, view.rows, view.images) == ("Dusk", Source.SEEDS, 4, 8)
    assert view.credits_reserved == 8
    assert view.counts == {"queued": 4, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
    assert (view.progress, view.state) == (0.0, "running")
    assert (view.eta_seconds or 0) > 0
    made = finish(studio, one)
    end(studio, two, "failed")
    at_provider(studio, three)
    view = views.get_batch(studio, owner, batch_id)
    assert view.counts == {"queued": 1, "running": 1, "done": 1, "failed": 1, "cancelled": 0}
    assert view.progress == pytest.approx(0.5)
    assert (view.credits_reserved, view.credits_spent) == (4, 2)
    shown = views.batch_rows(studio, owner, batch_id)
    assert [(row.number, row.seed, row.status) for row in shown] == [
        (1, 10, JobStatus.SUCCEEDED),
        (2, 11, JobStatus.FAILED),
        (3, 12, JobStatus.SUBMITTED),
        (4, 13, JobStatus.QUEUED),
    ]
    assert [image.id for image in shown[0].images] == made
    assert [len(row.images) for row in shown] == [2, 0, 0, 0]
    assert shown[1].error_message == "It ended without images. Your 2 credits were returned."
    assert [row.number for row in views.batch_rows(studio, owner, batch_id, offset=2, limit=1)] == [3]
    assert {image.id for image in views.batch_images(studio, owner, batch_id)} == set(made)
    finish(studio, three)
    assert control.cancel(studio, owner, batch_id) == 1  # row 4
    view = views.get_batch(studio, owner, batch_id)
    assert view.counts == {"queued": 0, "running": 0, "done": 2, "failed": 1, "cancelled": 1}
    assert (view.progress, view.state, view.eta_seconds) == (1.0, "cancelled", None)
    assert [batch.id for batch in views.list_batches(studio, owner)] == [batch_id]
    assert_balanced(studio, owner, 96)

    files, extras = export.contents(studio, owner, batch_id)
    assert [name for name, _ in extras] == ["manifest.csv", "manifest.json", "report.json"]
    small = dict(extras)
    manifest = json.loads(small["manifest.json"])
    assert [
        (entry["row"], entry["status"], entry["seed"], bool(entry["image_file"])) for entry in manifest
    ] == [
        (1, "succeeded", 10, True),
        (1, "succeeded", 10, True),
        (2, "failed", 11, False),
        (3, "succeeded", 12, True),
        (3, "succeeded", 12, True),
        (4, "cancelled", 13, False),
    ]
    assert {(entry["model"], entry["model_endpoint"]) for entry in manifest} == {
        ("FLUX.1 [schnell]", SCHNELL)
    }
    assert [entry["image_file"] for entry in manifest if entry["image_file"]] == [name for name, _ in files]
    assert [name.split("-")[:3] for name, _ in files] == [
        ["images/row", "0001", "1"],
        ["images/row", "0001", "2"],
        ["images/row", "0003", "1"],
        ["images/row", "0003", "2"],
    ]
    assert len({name for name, _ in files}) == 4
    assert {key for _, key in files[:2]} == {f"users/{owner}/images/{one.hex}-{n}.png" for n in (0, 1)}
    table = list(csv.DictReader(io.StringIO(small["manifest.csv"].decode())))
    assert [row["image_file"] for row in table] == [entry["image_file"] for entry in manifest]
    assert table[2]["error"].startswith("It ended without images.")
    report = json.loads(small["report.json"])
    assert report["counts"] == view.counts
    assert report["credits"] == {"reserved": 8, "spent": 4, "returned": 4, "held": 0}
    assert (report["rows"], report["jobs_run"], report["images"], report["name"]) == (4, 4, 4, "Dusk")
