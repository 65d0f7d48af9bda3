"""Gallery pages at scale: 1,000,000 images in PostgreSQL, 100,000 of them one person's.

A scratch database, migrated, is seeded in bulk by `INSERT ... SELECT generate_series` (1,000 other accounts
share 900,000 images; "heavy" owns 100,000, one per second of the last ~28 hours, with varied prompts,
models, sizes, ratings and favourites), then analysed. Timed is `gallery.gallery_page` (the service: query,
rows, cached thumbnail URLs) for the heavy account, page 1 and page 2,000 (48 per page), plain, with
filters and with a search; and the same page 2,000 read with OFFSET instead of a keyset, for the ratio.

    uv run python bench/gallery.py [--runs 40] [--images 1000000] [--mine 100000]

Prints p50/p95 per case and one line `gallery: ... -> PASS|FAIL` (target: every p95 <= 50 ms).
Exits 0 either way. Takes ~2-4 minutes, most of it seeding.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from bench._stack import POSTGRES_ADMIN_URL, _hermetic_environment, percentile, verdict
from studio import bootstrap
from studio.adapters.db import Database
from studio.adapters.db.models import Image
from studio.domain.library import Aspect, Cursor, GalleryFilter, Sort
from studio.services.context import Services
from studio.services.library import gallery
from studio.settings import Settings
from tests.support.databases import scratch_database

TARGET_MS = 50.0
PAGE = 48
DEEP = 2_000

SEED_USERS = """
INSERT INTO users (id, email, username, name, role, created_at, updated_at)
SELECT gen_random_uuid(), 'bench' || n || '@example.org', 'bench' || n, 'Bench ' || n, 'user', now(), now()
FROM generate_series(1, CAST(:users AS integer)) AS n
"""
# Words, models, sizes and ratings picked by different strides, so they vary independently; "lighthouse"
# is in about a sixth of the prompts.
SEED_IMAGES = """
INSERT INTO images (id, owner_id, operation, prompt, model_endpoint, params, seed, width, height,
                    content_type, byte_size, storage_key, thumb_key, phash, is_favourite, rating, credits,
                    timings, created_at)
SELECT gen_random_uuid(), owner, 'text_to_image',
       (ARRAY['a red','a blue','an old','a quiet','a golden'])[1 + n % 5] || ' '
       || (ARRAY['lighthouse','harbour','forest','city street','mountain lake','cat'])[1 + (n / 7) % 6]
       || ' at ' || (ARRAY['dusk','dawn','noon','night'])[1 + (n / 3) % 4] || ', photo ' || n,
       (ARRAY['fal-ai/flux/dev','fal-ai/flux/schnell','fal-ai/recraft-v3'])[1 + n % 3], '{}'::jsonb, n,
       (ARRAY[1024, 768, 1344, 512])[1 + (n / 3) % 4], (ARRAY[1024, 1344, 768, 512])[1 + (n / 3) % 4],
       'image/png',
       900000 + n % 1000, 'users/' || owner || '/images/' || n || '.png',
       'users/' || owner || '/thumbs/' || n || '.webp', lpad(to_hex(n % 50000), 16, '0'),
       n % 7 = 0, CASE WHEN (n / 11) % 5 = 0 THEN NULL ELSE (n / 11) % 5 END, 1, '{}'::jsonb,
       now() - make_interval(secs => n)
FROM (SELECT n, {owner} AS owner
      FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS n) AS seeded
"""


def seed(database: Database, images: int, mine: int) -> uuid.UUID:
    """The heavy account's id, after seeding everything."""
    started = time.monotonic()
    with database.engine.begin() as connection:
        connection.execute(sa.text(SEED_USERS), {"users": 1000})
        heavy = connection.execute(
            sa.text(
                "INSERT INTO users (id, email, username, name, role, created_at, updated_at) VALUES"
                " (gen_random_uuid(), 'heavy@example.org', 'heavy', 'Heavy', 'user', now(), now())"
                " RETURNING id"
            )
        ).scalar_one()
        others = "(SELECT id FROM users WHERE username = 'bench' || (1 + n % 1000))"
        connection.execute(
            sa.text(SEED_IMAGES.replace("{owner}", others)), {"start": 1, "stop": images - mine}
        )
        connection.execute(
            sa.text(SEED_IMAGES.replace("{owner}", f"'{heavy}'::uuid")), {"start": 1, "stop": mine}
        )
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE images"))
        connection.execute(sa.text("VACUUM ANALYZE users"))
    print(f"seeded {images:,} images ({mine:,} for one account) in {time.monotonic() - started:.0f} s")
    return uuid.UUID(str(heavy))


def deep_cursor(
    services: Services, owner: uuid.UUID, chosen: GalleryFilter, sort: Sort
) -> tuple[str, int] | None:
    """The keyset position of page DEEP (or the last full page when the filter has fewer), found once by
    OFFSET outside the timing."""
    with services.uow() as uow:
        where = gallery.conditions(uow.session, owner, chosen)
        total = uow.session.scalar(sa.select(sa.func.count()).select_from(Image).where(*where)) or 0
        if total < 2 * PAGE:
            return None
        page = min(DEEP, total // PAGE)
        row = uow.session.scalars(
            sa.select(Image)
            .where(*where)
            .order_by(*gallery.order_by(sort))
            .offset((page - 1) * PAGE - 1)
            .limit(1)
        ).one()
        values = (row.created_at, row.id) if sort in (Sort.NEWEST, Sort.OLDEST) else ()
        return Cursor(values).encode(), page


def offset_page(services: Services, owner: uuid.UUID, chosen: GalleryFilter, sort: Sort, page: int) -> None:
    with services.uow() as uow:
        where = gallery.conditions(uow.session, owner, chosen)
        query = sa.select(Image).where(*where).order_by(*gallery.order_by(sort))
        list(uow.session.scalars(query.offset((page - 1) * PAGE).limit(PAGE)))


def timed(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm: plans, the URL cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--mine", type=int, default=100_000)
    args = parser.parse_args()
    _hermetic_environment()
    with scratch_database(POSTGRES_ADMIN_URL, "bench") as url, tempfile.TemporaryDirectory() as tmp:
        embedded = bootstrap.build_services(Settings(_env_file=None, data_dir=Path(tmp)))
        database = Database.from_url(url)
        database.migrate()
        services = dataclasses.replace(embedded, database=database)
        try:
            heavy = seed(database, args.images, args.mine)
            cases = {
                "plain": GalleryFilter(),
                "filtered": GalleryFilter(model="fal-ai/flux/dev", min_rating=2, aspect=Aspect.SQUARE),
                "search": GalleryFilter(search="lighthouse"),
                "search+filter": GalleryFilter(search="lighthouse dusk", favourites=True),
            }
            rows: list[tuple[str, float, float]] = []
            ratio, deepest = float("nan"), DEEP
            for name, chosen in cases.items():
                page1 = timed(partial(gallery.gallery_page, services, heavy, chosen, Sort.NEWEST), args.runs)
                rows.append((f"{name}, page 1", percentile(page1, 50), percentile(page1, 95)))
                found = deep_cursor(services, heavy, chosen, Sort.NEWEST)
                if found is None:
                    continue
                cursor, page = found
                deep = timed(
                    partial(gallery.gallery_page, services, heavy, chosen, Sort.NEWEST, cursor), args.runs
                )
                rows.append((f"{name}, page {page:,}", percentile(deep, 50), percentile(deep, 95)))
                if name == "plain":
                    offset = timed(
                        partial(offset_page, services, heavy, chosen, Sort.NEWEST, page), args.runs
                    )
                    rows.append(
                        (f"{name}, page {page:,} by OFFSET", percentile(offset, 50), percentile(offset, 95))
                    )
                    ratio, deepest = percentile(offset, 95) / percentile(deep, 95), page
            for sort in (Sort.RATING, Sort.MODEL):
                samples = timed(
                    partial(gallery.gallery_page, services, heavy, GalleryFilter(), sort), args.runs
                )
                rows.append((f"sort {sort.value}, page 1", percentile(samples, 50), percentile(samples, 95)))
        finally:
            embedded.close()
            database.dispose()
    width = max(len(label) for label, _, _ in rows)
    for label, p50, p95 in rows:
        print(f"  {label:<{width}}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")
    keyset = [p95 for label, _, p95 in rows if "OFFSET" not in label]
    ok = max(keyset) <= TARGET_MS
    print(
        f"gallery: worst keyset p95 {max(keyset):.1f} ms over {len(keyset)} cases"
        f" (target <= {TARGET_MS:.0f} ms);"
        f" OFFSET / keyset at page {deepest:,}: p95 ratio {ratio:.1f}x -> {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
