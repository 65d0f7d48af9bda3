"""A family of 200 images does not slow the image page: the lineage service and the page, with and without.

A scratch PostgreSQL database, migrated; the studio's services on it (otherwise embedded: local files, the
in-process queue). An account (signed in through the Sign in page under Streamlit's AppTest) gets a family of
`--family` images (a root, 19 children, each with 9 grandchildren and ~the rest spread a level deeper,
each image with its stored thumbnail) and one lone image. Then, alternating sample by sample:

- `lineage.family` from a grandchild of the family (p50/p95) against `details.image_detail` of the same
  image, what the image page reads anyway;
- the image page (`pages/image.py`) rerun by AppTest for the family's grandchild against the lone image.

    uv run python bench/lineage.py [--family 200] [--runs 30]

Prints the figures and one line `lineage: ... -> PASS|FAIL` (targets: `family` p95 <= 50 ms, and the page
with the family within 1.25× of the page of the lone image at p50). Exits 0 either way.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from bench._stack import POSTGRES_ADMIN_URL, ROOT, _hermetic_environment, percentile, verdict
from studio.adapters.db.models import Image
from studio.services.context import Services
from studio.services.generation.outputs import inspect
from studio.services.library import details, lineage
from studio.services.passwords import hash_password
from studio.settings import Settings
from tests.support.builders import new_user
from tests.support.databases import scratch_database
from tests.support.services import installed

HOME = str(ROOT / "Home.py")
FAMILY_P95_MS = 50.0
PAGE_RATIO = 1.25
USERNAME = "bench-user"
OPERATIONS = ("variation", "upscale", "inpaint", "regenerate", "remove_background", "outpaint")


def _navigation_only() -> None:
    """As the server runs pages (the tests do the same): no pages-folder mode under AppTest."""
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]


def _thumbnail() -> tuple[bytes, bytes]:
    out = io.BytesIO()
    PILImage.new("RGB", (512, 512), (40, 90, 160)).save(out, "PNG")
    output = inspect(out.getvalue())
    return output.data, output.thumbnail


def seed(services: Services, owner: uuid.UUID, size: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A family of `size` images and a lone one; (a grandchild of the family, the lone image)."""
    data, thumb = _thumbnail()
    rows: list[Image] = []

    def add(parent: Image | None, index: int) -> Image:
        image_id = uuid.uuid4()
        key, thumb_key = f"users/{owner}/images/{image_id}.png", f"users/{owner}/thumbs/{image_id}.webp"
        services.storage.put(key, data, "image/png")
        services.storage.put(thumb_key, thumb, "image/webp")
        image = Image(
            id=image_id, owner_id=owner, parent_image_id=parent.id if parent else None,
            operation=OPERATIONS[index % len(OPERATIONS)] if parent else "text_to_image",
            prompt=f"a lighthouse, take {index}", model_endpoint="fal-ai/flux/dev",
            params={"seed": index, "strength": 0.5} if parent else {"seed": 0}, seed=index,
            width=512, height=512, content_type="image/png", byte_size=len(data),
            storage_key=key, thumb_key=thumb_key,
        )  # fmt: skip
        rows.append(image)
        return image

    root = add(None, 0)
    children = [add(root, n) for n in range(1, 20)]
    grandchildren = [add(child, 20 + 9 * c + n) for c, child in enumerate(children) for n in range(9)]
    while len(rows) < size:
        add(grandchildren[len(rows) % len(grandchildren)], len(rows))
    lone = add(None, size)
    with services.uow() as uow:
        uow.session.add_all(rows)
        uow.commit()
    return grandchildren[0].id, lone.id


def _checked(app: AppTest) -> AppTest:
    if app.exception:
        raise RuntimeError("the page raised:\n" + "\n".join(e.message for e in app.exception))
    return app


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"  {name:<34} p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--family", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    _hermetic_environment()
    _navigation_only()
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        url = stack.enter_context(scratch_database(POSTGRES_ADMIN_URL, "bench"))
        settings = Settings(
            _env_file=None, database_url=url, data_dir=Path(tmp), secret_key=secrets.token_urlsafe(36),
            log_level="WARNING",
        )  # fmt: skip
        services = stack.enter_context(installed(settings))
        password = secrets.token_urlsafe(12)
        new_user(services, USERNAME, password_hash=hash_password(password))
        app = _checked(AppTest.from_file(HOME, default_timeout=60).run())
        _checked(app.switch_page("pages/sign_in.py").run())
        app.text_input(key="sign_in.login").set_value(USERNAME)
        app.text_input(key="sign_in.password").set_value(password)
        _checked(next(b for b in app.button if b.label == "Sign in").click().run())
        owner: uuid.UUID = app.session_state["account"].id
        member, lone = seed(services, owner, args.family)
        family = lineage.family(services, owner, member)
        print(f"family of {len(family.nodes)} images (truncated: {family.truncated}); {args.runs} runs each")

        def page(image_id: uuid.UUID) -> None:
            app.query_params.clear()
            app.query_params["id"] = str(image_id)
            _checked(app.switch_page("pages/image.py").run())

        page(member)  # warm-up: imports, the first URLs signed
        page(lone)
        samples: dict[str, list[float]] = {"family": [], "detail": [], "page_family": [], "page_lone": []}
        for _ in range(args.runs):
            samples["family"].append(timed(lambda: lineage.family(services, owner, member)))
            samples["detail"].append(timed(lambda: details.image_detail(services, owner, member)))
            samples["page_family"].append(timed(lambda: page(member)))
            samples["page_lone"].append(timed(lambda: page(lone)))
    print(summary("lineage.family (200 images)", samples["family"]))
    print(summary("details.image_detail (baseline)", samples["detail"]))
    print(summary("image page, in the family", samples["page_family"]))
    print(summary("image page, a lone image", samples["page_lone"]))
    family_p95 = percentile([s * 1000 for s in samples["family"]], 95)
    ratio = statistics.median(samples["page_family"]) / statistics.median(samples["page_lone"])
    detail_ratio = statistics.median(samples["family"]) / statistics.median(samples["detail"])
    ok = family_p95 <= FAMILY_P95_MS and ratio <= PAGE_RATIO
    print(
        f"lineage: family p95 {family_p95:.1f} ms (<= {FAMILY_P95_MS:.0f}), family/detail p50 "
        f"{detail_ratio:.2f}, page p50 family/lone {ratio:.3f} (<= {PAGE_RATIO}) -> {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
