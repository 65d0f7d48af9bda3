"""The prompt library's services on SQLite and on PostgreSQL (`backend`): owner scoping, search, usage
counts, the public library, history, presets, styles, templates on a job, and the import/export round trip."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from studio.adapters.db.models import AuditLog, CreditLedger, GenerationJob
from studio.domain.parameters import Request
from studio.domain.prompts import DEFAULT_MODIFIERS, Modifier, PromptForm, Sort
from studio.errors import Forbidden, InvalidInput, InvalidParameters, NotFound
from studio.services.billing.plans import sync_plans
from studio.services.context import Services
from studio.services.generation.catalogue import sync_catalogue
from studio.services.generation.submissions import start_generation
from studio.services.prompts import history, library, presets, styles, transfer, wildcards
from studio.services.prompts.library import PromptQuery
from tests.support.builders import new_user

SCHNELL = "fal-ai/flux/schnell"


@pytest.fixture
def seeded(backend: Services) -> Services:
    """The backend with the model catalogue and the plans in its database (jobs are priced from them)."""
    sync_catalogue(backend)
    sync_plans(backend)
    return backend


def form(title: str, text: str, **fields: object) -> PromptForm:
    return PromptForm(title, text, **fields)  # type: ignore[arg-type]


def test_prompts_are_their_owners_only(backend: Services) -> None:
    alice, bob = new_user(backend, "alice"), new_user(backend, "bob")
    mine = library.create(backend, alice, form("Harbour", "a quiet harbour at dawn"))
    assert [p.id for p in library.prompts(backend, alice)] == [mine.id]
    assert library.prompts(backend, bob) == []
    for attempt in (
        lambda: library.get(backend, bob, mine.id),
        lambda: library.update(backend, bob, mine.id, form("Mine now", "x")),
        lambda: library.delete(backend, bob, mine.id),
        lambda: library.duplicate(backend, bob, mine.id),
        lambda: library.publish(backend, bob, mine.id, True),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert library.get(backend, alice, mine.id).text == "a quiet harbour at dawn"


def test_search_filter_and_sort_like_the_gallery(backend: Services) -> None:
    owner = new_user(backend, "carol")
    light = library.create(
        backend,
        owner,
        form("Coast", "lighthouses on basalt cliffs", category="Landscape", tags=("coast", "night")),
    )
    fox = library.create(
        backend, owner, form("Fox", "a red fox in fresh snow", category="Animals", tags=("snow",))
    )
    zebra = library.create(backend, owner, form("Aardvark", "an aardvark at noon", favourite=True))
    for _ in range(3):
        library.record_use(backend, owner, fox.id)

    def ids(**query: object) -> list[uuid.UUID]:
        return [p.id for p in library.prompts(backend, owner, PromptQuery(**query))]  # type: ignore[arg-type]

    assert ids(search="lighthouse") == [light.id]  # stemmed: "lighthouses" is found by "lighthouse"
    assert ids(search="snow fox") == [fox.id]  # every word
    assert ids(search="Coast") == [light.id]  # the title too
    assert ids(category="Animals") == [fox.id]
    assert ids(tag="night") == [light.id]
    assert ids(favourites=True) == [zebra.id]
    assert ids(sort=Sort.MOST_USED)[0] == fox.id
    assert ids(sort=Sort.NAME) == [zebra.id, light.id, fox.id]
    assert library.get(backend, owner, fox.id).use_count == 3
    assert library.categories_and_tags(backend, owner) == (
        ["Animals", "Landscape"],
        ["coast", "night", "snow"],
    )


def test_a_prompt_that_breaks_the_rules_is_refused_with_reasons(backend: Services) -> None:
    owner = new_user(backend, "dave")
    with pytest.raises(InvalidInput, match="Give the prompt a title") as caught:
        library.create(backend, owner, form("", "x" * 2001))
    assert "limit is 2000" in str(caught.value)
    assert library.prompts(backend, owner) == []


def test_the_public_library_is_browsed_copied_and_moderated(backend: Services) -> None:
    owner, reader = new_user(backend, "erin"), new_user(backend, "frank")
    admin = new_user(backend, "grace", role="admin")
    shared = library.create(backend, owner, form("Neon", "a neon alley in the rain"))
    library.publish(backend, owner, shared.id, True)
    public = library.public_prompts(backend, "neon")
    assert [(p.id, p.author) for p in public] == [(shared.id, "Erin")]
    copied = library.copy_public(backend, reader, shared.id)
    assert copied.text == shared.text
    assert copied.id != shared.id
    assert [p.id for p in library.prompts(backend, reader)] == [copied.id]
    with pytest.raises(Forbidden):
        library.unpublish(backend, reader, shared.id, "spam")
    library.unpublish(backend, admin, shared.id, "not a prompt")
    assert library.public_prompts(backend) == []
    assert library.get(backend, owner, shared.id).is_public is False  # still the owner's
    with pytest.raises(Forbidden, match="took this prompt down"):
        library.publish(backend, owner, shared.id, True)
    library.update(backend, owner, shared.id, form("Neon", "a neon alley in the rain, reflections"))
    library.publish(backend, owner, shared.id, True)  # edited since: may be published again
    with backend.uow() as uow:
        actions = list(uow.session.scalars(sa.select(AuditLog.action).where(AuditLog.actor_id == admin)))
    assert actions == ["prompt.unpublish"]
    with pytest.raises(NotFound):
        library.copy_public(backend, reader, library.create(backend, owner, form("Private", "x")).id)


def test_history_lists_every_prompt_run_with_the_images_it_made(seeded: Services) -> None:
    backend = seeded
    owner = new_user(backend, "heidi", credits=20)
    for prompt, count in (("a red fox", 2), ("a red fox", 1), ("an owl", 1)):
        request = Request(SCHNELL, prompt, params={"image_size": "square", "num_images": count})
        start_generation(backend, owner, request, uuid.uuid4().hex)
    with backend.uow() as uow:
        uow.session.execute(
            sa.update(GenerationJob).where(GenerationJob.owner_id == owner).values(status="succeeded")
        )
        uow.commit()
    rows = history.history(backend, owner)
    assert {(row.prompt, row.runs, row.images) for row in rows} == {("a red fox", 2, 3), ("an owl", 1, 1)}
    assert [row.prompt for row in history.history(backend, owner, "OWL")] == ["an owl"]
    assert history.history(backend, owner, "100%_") == []  # the search is text, not a LIKE pattern
    assert history.history(backend, new_user(backend, "ivan")) == []


def test_a_template_is_expanded_when_the_job_is_accepted_and_replays_from_its_pick_seed(
    seeded: Services,
) -> None:
    backend = seeded
    owner = new_user(backend, "judy", credits=20)
    wildcards.save(backend, owner, "animal", "fox\nowl\n# a comment\nred deer")
    template = "a {tiny|huge} __animal__ in ${place:the snow}"
    request = Request(SCHNELL, template, params={"image_size": "square"}, template=template, values={})
    job = start_generation(backend, owner, request, "t1")
    assert job.request.template == template
    assert job.request.pick_seed is not None
    assert job.prompt.startswith(("a tiny ", "a huge "))
    assert job.prompt.endswith(" in the snow")
    assert any(animal in job.prompt for animal in ("fox", "owl", "red deer"))
    again = start_generation(backend, owner, job.request, "t2", again=True)  # the same pick seed
    assert again.prompt == job.prompt
    with backend.uow() as uow:
        sent = uow.session.scalar(sa.select(GenerationJob.params).where(GenerationJob.id == job.id))
    assert sent is not None
    assert sent["prompt"] == job.prompt

    broken = Request(
        SCHNELL, "a __missing__ cat", params={"image_size": "square"}, template="a __missing__ cat"
    )
    with backend.uow() as uow:
        before = uow.session.scalar(sa.select(sa.func.count()).where(CreditLedger.user_id == owner))
    with pytest.raises(InvalidInput, match=r"missing.*column 3"):
        start_generation(backend, owner, broken, "t3")
    with backend.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).where(CreditLedger.user_id == owner)) == before


def test_presets_keep_a_model_and_its_settings_without_the_seed(backend: Services) -> None:
    owner = new_user(backend, "ken")
    request = Request(SCHNELL, "a fox", params={"image_size": "square", "seed": 9, "num_inference_steps": 3})
    saved = presets.save(backend, owner, "Quick squares", request, keep_prompt=False)
    assert saved.request.params == {"image_size": "square", "num_inference_steps": 3}
    assert saved.request.prompt == ""
    assert [p.name for p in presets.presets(backend, owner)] == ["Quick squares"]
    with pytest.raises(InvalidParameters, match="Steps"):
        presets.save(
            backend, owner, "Bad", Request(SCHNELL, "", params={"num_inference_steps": 99}), keep_prompt=False
        )
    with pytest.raises(NotFound):
        presets.get(backend, new_user(backend, "leo"), saved.id)


def test_styles_are_the_studios_and_each_users_own(backend: Services) -> None:
    styles.sync_defaults(backend)
    owner, other = new_user(backend, "mia"), new_user(backend, "ned")
    admin = new_user(backend, "olga", role="admin")
    names = [view.modifier.name for view in styles.modifiers(backend, owner)]
    assert names == [modifier.name for modifier in DEFAULT_MODIFIERS]
    styles.add(backend, owner, Modifier("Moody", "moody, low key", ""))
    assert "Moody" in [view.modifier.name for view in styles.modifiers(backend, owner)]
    assert "Moody" not in [view.modifier.name for view in styles.modifiers(backend, other)]
    golden = next(view for view in styles.modifiers(backend, owner) if view.modifier.name == "Golden hour")
    with pytest.raises(Forbidden):
        styles.set_studio_style_enabled(backend, owner, golden.id, False)
    styles.set_studio_style_enabled(backend, admin, golden.id, False)
    assert "Golden hour" not in [view.modifier.name for view in styles.modifiers(backend, other)]
    assert styles.sync_defaults(backend) == 0  # an admin's switch stays


def test_the_library_round_trips_through_json_and_an_import_never_half_imports(backend: Services) -> None:
    source, target = new_user(backend, "pat"), new_user(backend, "quinn")
    library.create(
        backend,
        source,
        form(
            "Coast, at night",
            'lighthouse, "beam", {dusk|night}',
            negative_prompt="people",
            category="Landscape",
            tags=("coast",),
        ),
    )
    library.create(backend, source, form("Fox", "a __animal__", favourite=True))
    wildcards.save(backend, source, "animal", "fox\nowl")
    styles.add(backend, source, Modifier("Inked", "ink drawing of {prompt}", "Medium"))
    exported = transfer.export_json(backend, source)
    done = transfer.import_file(backend, target, exported, "prompt-library.json")
    assert (done.prompts, done.styles, done.lists, done.refused) == (2, 1, 1, ())
    assert transfer.export_json(backend, target) == exported

    again = transfer.import_file(backend, target, exported, "prompt-library.json")
    assert (again.prompts, again.styles, again.lists) == (0, 0, 0)  # all of it is there already
    assert len(again.refused) == 4

    data = json.loads(exported)
    data["prompts"].append({"title": "Broken", "text": ""})
    data["prompts"].append({"title": "New one", "text": "a new prompt"})
    mixed = transfer.import_file(backend, new_user(backend, "rita"), json.dumps(data).encode(), "lib.json")
    assert mixed.prompts == 3
    assert any("Broken" in refused.reason or refused.line for refused in mixed.refused)
