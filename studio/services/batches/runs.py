"""Making a batch: its rows priced one by one before anything is queued (`preview`), then every row's job
created and reserved in one transaction (`start_batch`), all or none.

A batch the account cannot afford is refused whole: the preview says so, and how many of its first rows
would fit, and the person may start just those (`fit=True`), knowingly. Nothing is ever half-started
behind their back. Each job has its own reservation and ledger row, so every rule of a single job (settle
what was made, refund exactly once) holds row by row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studio.adapters.db.models import Batch, GenerationJob, User, utcnow
from studio.domain import templates
from studio.domain.batches import (
    NAME_MAX_CHARS,
    Allowance,
    Priority,
    Row,
    RowsError,
    Source,
    allowance,
    request_for,
)
from studio.domain.catalogue import ModelSpec
from studio.domain.parameters import Request
from studio.errors import InsufficientCredits, InvalidInput, InvalidParameters, StudioError
from studio.services.billing import ledger, plans
from studio.services.context import Services
from studio.services.generation import catalogue, eta, fair, submissions
from studio.services.prompts import wildcards

_KEY_MAX = 128


@dataclass(frozen=True)
class Draft:
    """A batch as the form describes it: its parameters (`request`: model, negative prompt, sizes...),
    its rows, and how it runs."""

    name: str
    source: Source
    request: Request
    rows: list[Row]
    priority: Priority = Priority.NORMAL
    run_at: datetime | None = None  # aware; None: now
    timezone: str = "UTC"
    fallback_model: str | None = None
    project_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RowPrice:
    """One row as the preview shows it."""

    number: int  # 1-based
    prompt: str
    model: str  # the model's name
    seed: int | None
    images: int
    credits: int
    problem: str = ""


@dataclass(frozen=True)
class Preview:
    rows: list[RowPrice]
    jobs: int
    images: int
    credits: int
    balance: int
    allowance: Allowance
    plan_name: str
    eta_seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def affordable(self) -> bool:
        return self.credits <= self.balance

    @property
    def fits(self) -> int:
        """How many of the first rows the balance pays for."""
        spent = 0
        for number, row in enumerate(self.rows):
            spent += row.credits
            if spent > self.balance:
                return number
        return len(self.rows)

    @property
    def ready(self) -> bool:
        """Nothing stops it but, maybe, the credits."""
        return not self.problems and self.jobs > 0


def template_rows(
    services: Services, account_id: uuid.UUID, text: str, values: dict[str, str], cap: int
) -> list[Row]:
    """Every combination of a template (the person's own wildcard lists), as rows; RowsError when it
    cannot be expanded or makes more than `cap` prompts (counted before anything is expanded)."""
    try:
        parsed = templates.parse(text)
        prompts = templates.expand_all(parsed, wildcards.lists_by_name(services, account_id), values, cap=cap)
    except templates.TooMany as err:
        raise RowsError([f"{err} Your plan runs batches of up to {cap:,} jobs."]) from None
    except templates.TemplateError as err:
        raise RowsError([f"The template cannot be expanded: {err}"]) from None
    return [Row(prompt) for prompt in prompts]


def plan_allowance(services: Services, account_id: uuid.UUID) -> tuple[str, Allowance]:
    """The account's plan name and what it may do with batches."""
    with services.uow() as uow:
        code = fair.plan_codes(uow.session, [account_id]).get(account_id)
    found = plans.cycle(services, account_id)
    return (found[0] if found else "Free"), allowance(code)


@dataclass(frozen=True)
class _Priced:
    row: RowPrice
    planned: submissions.Planned | None


def _price_rows(services: Services, account_id: uuid.UUID, draft: Draft, *, seeds: bool) -> list[_Priced]:
    """Each row validated and priced (with its seed picked when `seeds`); a row's problem names it."""
    specs: dict[str, ModelSpec | StudioError] = {}

    def spec_of(model: str) -> ModelSpec | StudioError:
        if model not in specs:
            try:
                specs[model] = catalogue.model_spec(services, model)
            except StudioError as err:
                specs[model] = err
        return specs[model]

    priced = []
    for number, row in enumerate(draft.rows, start=1):
        spec = spec_of(row.model or draft.request.model)
        if isinstance(spec, StudioError):
            problem = f"Row {number}: {spec}"
            priced.append(
                _Priced(RowPrice(number, row.prompt, row.model or "?", row.seed, 0, 0, problem), None)
            )
            continue
        try:
            request = request_for(draft.request, row, spec)
            planned = submissions.plan(
                services, account_id, submissions.with_seed(spec, request) if seeds else request, None, spec
            )
            if draft.fallback_model:
                submissions.check_fallback(services, spec, draft.fallback_model)
        except InvalidParameters as err:
            problem = f"Row {number}: {'; '.join(err.problems)}"
            priced.append(_Priced(RowPrice(number, row.prompt, spec.name, row.seed, 0, 0, problem), None))
            continue
        except StudioError as err:
            problem = f"Row {number}: {err}"
            priced.append(_Priced(RowPrice(number, row.prompt, spec.name, row.seed, 0, 0, problem), None))
            continue
        seed = planned.request.params.get("seed")
        priced.append(
            _Priced(
                RowPrice(
                    number,
                    row.prompt,
                    spec.name,
                    seed if isinstance(seed, int) else None,
                    planned.cost.images,
                    planned.cost.credits,
                ),
                planned,
            )
        )
    return priced


def _limits(draft: Draft, limit: Allowance) -> list[str]:
    problems = []
    if not draft.name.strip():
        problems.append("Give the batch a name.")
    if len(draft.name) > NAME_MAX_CHARS:
        problems.append(f"The name is longer than {NAME_MAX_CHARS} characters.")
    if len(draft.rows) > limit.batch_jobs:
        problems.append(
            f"This batch has {len(draft.rows):,} jobs; your plan runs batches of up to {limit.batch_jobs:,}."
        )
    if draft.run_at is not None and draft.run_at.tzinfo is None:
        problems.append("A scheduled time needs its timezone.")
    return problems


def preview(services: Services, account_id: uuid.UUID, draft: Draft) -> Preview:
    """The batch priced row by row before anything is queued: jobs, images and credits per row and in all,
    the credits the account has, the plan's batch size, the ETA, and every problem by row."""
    plan_name, limit = plan_allowance(services, account_id)
    problems = _limits(draft, limit)
    too_many = len(draft.rows) > limit.batch_jobs
    priced = [] if too_many else _price_rows(services, account_id, draft, seeds=False)
    problems += [item.row.problem for item in priced if item.row.problem]
    rows = [item.row for item in priced]
    with services.uow() as uow:
        endpoints = [item.planned.spec.endpoint_id for item in priced if item.planned is not None]
        ahead = eta.waiting_jobs(uow.session, account_id)
        seconds = eta.eta_of_many(services, uow.session, account_id, endpoints, ahead)
    if draft.run_at is not None and draft.run_at.tzinfo is not None:
        seconds += max(0.0, (draft.run_at - utcnow()).total_seconds())
    return Preview(
        rows=rows,
        jobs=len(draft.rows),
        images=sum(row.images for row in rows),
        credits=sum(row.credits for row in rows),
        balance=submissions.balance(services, account_id),
        allowance=limit,
        plan_name=plan_name,
        eta_seconds=seconds,
        problems=problems,
    )


def start_batch(
    services: Services, account_id: uuid.UUID, draft: Draft, idempotency_key: str, *, fit: bool = False
) -> uuid.UUID:
    """Create the batch: one job per row, each reserved, in one transaction, then let the fair queue
    send them. Refused whole when the account cannot pay for every row (InsufficientCredits), unless `fit`:
    then only the first rows the balance pays for are made. The same key is the same batch."""
    if not idempotency_key or len(idempotency_key) > _KEY_MAX:
        raise InvalidInput("a batch needs an idempotency key of 1-128 characters")
    existing = _by_key(services, account_id, idempotency_key)
    if existing is not None:
        return existing
    submissions.check_may_generate(services, account_id)
    services.limit(services.settings.rate_limit_generations, "generations", str(account_id))
    if draft.project_id is not None:
        submissions.check_project(services, account_id, draft.project_id)
    plans.renew_if_due(services, account_id)
    _, limit = plan_allowance(services, account_id)
    problems = _limits(draft, limit) or ([] if draft.rows else ["The batch has no rows yet."])
    if problems:
        raise InvalidParameters(problems)
    priced = _price_rows(services, account_id, draft, seeds=True)
    problems = [item.row.problem for item in priced if item.row.problem]
    if problems:
        raise InvalidParameters(problems)
    if fit:
        balance = submissions.balance(services, account_id)
        kept, spent = [], 0
        for item in priced:
            spent += item.row.credits
            if spent > balance:
                break
            kept.append(item)
        if not kept:
            raise InsufficientCredits(
                priced[0].row.credits, balance, submissions.renewal_date(services, account_id)
            )
        priced = kept
    fallback = (
        catalogue.model_spec(services, draft.fallback_model).endpoint_id if draft.fallback_model else None
    )
    batch_id, now = uuid.uuid4(), utcnow()
    jobs = [
        submissions.new_job(
            services,
            account_id,
            item.planned,
            f"batch:{batch_id}:{item.row.number}",
            priority=int(draft.priority),
            project_id=draft.project_id,
            fallback_endpoint=fallback,
            batch=(batch_id, item.row.number),
            now=now,
        )
        for item in priced
        if item.planned is not None
    ]
    batch = Batch(
        id=batch_id,
        owner_id=account_id,
        name=draft.name.strip(),
        source=draft.source.value,
        request=replace(draft.request, template="", values={}, pick_seed=None).to_json()
        | {"rows": [row.to_json() for row in draft.rows[: len(jobs)]]},
        rows=len(jobs),
        images=sum(job.num_images for job in jobs),
        credits=sum(job.credits_reserved for job in jobs),
        priority=int(draft.priority),
        fallback_endpoint=fallback,
        run_at=draft.run_at,
        timezone=draft.timezone,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    try:
        save_jobs(
            services,
            account_id,
            jobs,
            "Reserved for row {row} of a batch",
            lambda session: session.add(batch),
        )
    except IntegrityError:
        existing = _by_key(services, account_id, idempotency_key)
        if existing is None:
            raise
        return existing
    fair.dispatch_quietly(services)
    submissions.alert_quietly(services, account_id)
    return batch_id


def save_jobs(
    services: Services,
    account_id: uuid.UUID,
    jobs: list[GenerationJob],
    reason: str,
    first: Callable[[Session], object],
) -> None:
    """In one transaction, with the account locked: `first` (the batch row, say), then the jobs, each
    reserved with `reason` (its `{row}` the job's batch row); all or none. InsufficientCredits says when
    the credits renew."""
    try:
        with services.uow() as uow:
            uow.session.execute(sa.select(User.id).where(User.id == account_id).with_for_update())
            first(uow.session)
            uow.session.flush()
            uow.session.add_all(jobs)
            uow.session.flush()
            reservations = [
                ledger.Reservation(job.credits_reserved, reason.format(row=job.batch_row), job.id)
                for job in jobs
            ]
            ledger.reserve_all(uow.session, account_id, reservations)
            uow.commit()
    except InsufficientCredits as short:
        raise InsufficientCredits(
            short.needed, short.available, submissions.renewal_date(services, account_id)
        ) from None


def _by_key(services: Services, account_id: uuid.UUID, key: str) -> uuid.UUID | None:
    with services.uow() as uow:
        found: uuid.UUID | None = uow.session.scalar(
            sa.select(Batch.id).where(Batch.owner_id == account_id, Batch.idempotency_key == key)
        )
    return found
