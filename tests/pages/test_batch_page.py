"""The Batch page in Streamlit's AppTest: rows from lines, the cost preview, starting a batch (refused
whole when it does not fit, or its first rows on request), its group with the controls, and Generate's
"Run as batch"."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from studio.adapters.db.models import Batch, GenerationJob
from studio.domain.batches import Priority, Row, Source
from studio.domain.credits import LedgerKind
from studio.domain.parameters import Request
from studio.errors import NotFound
from studio.services.batches import control, export, runs, views
from studio.services.batches.runs import Draft
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation import submissions
from studio.ui.shell.components import escape
from tests.support.apptest import me, press, signed_in, texts, titles, visit
from tests.support.builders import new_user


def _metrics(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {metric.label: metric.value for metric in app.metric}


def test_lines_are_priced_row_by_row_then_start_as_one_batch(embedded_services: Services) -> None:
    app = visit(signed_in(), "pages/batch.py")
    assert titles(app) == ["Batches"]
    assert not app.exception, app.exception
    app.text_area(key="batch.lines").input(
        "a *red* fox\n\na [link](https://elsewhere.example) owl\na hare"
    ).run()
    owner = me(app)
    balance = submissions.balance(embedded_services, owner)
    metrics = _metrics(app)
    assert metrics["Jobs"] == "3"
    assert metrics["You have"] == f"{balance:,}"
    assert "batches of up to 50 jobs, 2 at a time" in texts(app)
    (table,) = app.dataframe
    assert list(table.value["Row"]) == [1, 2, 3]
    assert list(table.value["Prompt"])[1] == "a [link](https://elsewhere.example) owl"  # as typed
    credits = int(metrics["Credits"])
    press(app, "Start batch of 3")
    assert not app.exception, app.exception
    with embedded_services.uow() as uow:
        (batch,) = uow.session.scalars(sa.select(Batch).where(Batch.owner_id == owner)).all()
        name = batch.name
        rows = uow.session.scalars(
            sa.select(GenerationJob.batch_row).where(GenerationJob.batch_id == batch.id)
        ).all()
    assert sorted(row or 0 for row in rows) == [1, 2, 3]
    assert submissions.balance(embedded_services, owner) == balance - credits
    assert escape(name) in texts(app)  # the name as typed, never markdown


def test_a_batch_that_does_not_fit_is_refused_whole_or_cut_on_request(embedded_services: Services) -> None:
    app = visit(signed_in(), "pages/batch.py")
    owner = me(app)
    with embedded_services.uow() as uow:  # leave the account 5 credits: two rows of 2 fit
        spend = ledger.balance(uow.session, owner) - 5
        ledger.change_balance(uow.session, owner, -spend, LedgerKind.ADJUST, "test", ref_type="test")
        uow.commit()
    app.text_area(key="batch.lines").input("a fox\nan owl\na hare\na stag").run()
    assert _metrics(app)["Credits"] == "8"
    assert "This batch needs 8 credits and you have 5: it is refused whole." in texts(app)
    start = next(button for button in app.button if button.label.startswith("Start batch"))
    assert start.disabled
    press(app, "Start only the first 2 rows (4 credits)")
    assert not app.exception, app.exception
    assert submissions.balance(embedded_services, owner) == 1
    with embedded_services.uow() as uow:
        made = uow.session.scalars(
            sa.select(GenerationJob.prompt).where(GenerationJob.owner_id == owner)
        ).all()
    assert sorted(made) == ["a fox", "an owl"]


def test_run_as_batch_from_generate_brings_the_prompt_and_model(embedded_services: Services) -> None:
    app = visit(signed_in(), "pages/generate.py")
    app.text_area(key="gen.prompt").input("a lighthouse on a cliff")
    press(app, "Run as batch")
    visit(app, "pages/batch.py")
    assert not app.exception, app.exception
    assert app.text_area(key="batch.lines").value == "a lighthouse on a cliff"
    assert _metrics(app)["Jobs"] == "1"


SECRET = "alice private batch lantern 9c1e"


def test_nobody_else_reaches_a_batch_through_the_services_or_the_page(embedded_services: Services) -> None:
    svc = embedded_services
    alice = new_user(svc, "alice", tagged=True, credits=20)
    draft = Draft(
        "Alice's batch", Source.LINES, Request("fal-ai/flux/schnell", ""), [Row(SECRET), Row(SECRET + " 2")]
    )
    batch_id = runs.start_batch(svc, alice, draft, "alice-batch")
    for who in ("user", "admin"):
        other = new_user(svc, who, tagged=True, role=who)
        for call in (
            lambda me: control.pause(svc, me, batch_id),
            lambda me: control.resume(svc, me, batch_id),
            lambda me: control.cancel(svc, me, batch_id),
            lambda me: control.retry_failed(svc, me, batch_id),
            lambda me: control.set_priority(svc, me, batch_id, Priority.NEXT),
            lambda me: views.get_batch(svc, me, batch_id),
            lambda me: views.batch_rows(svc, me, batch_id),
            lambda me: views.batch_images(svc, me, batch_id),
            lambda me: export.prepare(svc, me, batch_id),
        ):
            with pytest.raises(NotFound):
                call(other)
        assert views.list_batches(svc, other) == []
    app = visit(signed_in(), "pages/batch.py")
    assert not app.exception, app.exception
    assert SECRET not in texts(app)
    assert views.get_batch(svc, alice, batch_id).rows == 2  # and A still has it
