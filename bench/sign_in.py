"""Sign-in cost against the number of users: with 100,000 users in the database a sign-in run stays as fast
as with 10.

Two scratch PostgreSQL databases, migrated, one seeded with 10 users and one with 100,000 (bulk inserted,
all sharing one bcrypt hash; "bench-user" inserted last in both, so a scan of `users` would read the whole
table before finding it). The studio's services for each (PostgreSQL, otherwise embedded: in-process queue,
local files, mail outbox) are installed in turn, and Streamlit's AppTest runs Home.py as the server does:

- sign-in run: a fresh session opens Sign in, fills in the username and password; timed is only the run of
  the "Sign in" button (the bcrypt check, then Home.py's signed-in run, which lands on Generate);
- signed-in run: a plain rerun of a signed-in session (restore, the session check, the page).

The two databases alternate sample by sample, so drift hits both.

    uv run python bench/sign_in.py [--runs 30] [--users 100000]

Prints p50/p95 of each kind for both sizes, the SQL statements each run issues, any sequential scan in
their plans on the large database, and the p50 ratios large / small (target: each <= 1.25) with a
PASS/FAIL line. Exits 0 either way.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from bench._stack import POSTGRES_ADMIN_URL, ROOT, CpuMonitor, _hermetic_environment, percentile, verdict
from studio import bootstrap
from studio.services.context import Services
from studio.services.generation.catalogue import sync_catalogue
from studio.services.passwords import hash_password
from studio.settings import Settings
from tests.support.databases import scratch_database

TARGET = 1.25
USERNAME = "bench-user"
HOME = str(ROOT / "Home.py")
LARGE_TABLE = 10_000  # a sequential scan of a table at least this big grows with the number of users

Statement = tuple[str, Any]  # as the driver got it: SQL text and parameters (None for executemany)


@dataclass
class Database:
    """One seeded database, its installed services, and what the runs on it measured."""

    label: str
    services: Services
    sign_in: list[float] = field(default_factory=list)
    signed_in: list[float] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    recording: bool = False
    sign_in_count: int = 0  # statements of one "Sign in" run
    visit_sql: list[Statement] = field(default_factory=list)  # of one whole sign-in visit
    signed_in_sql: list[Statement] = field(default_factory=list)  # of one signed-in run

    def record(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        if self.recording:
            self.statements.append((statement, None if many else parameters))

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[Statement]]:
        """The statements issued inside the block."""
        self.statements = []
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False


def _navigation_only() -> None:
    """As the server runs pages (studio/ui/shell/server.py; the tests do the same in tests/conftest.py):
    AppTest rebuilds the pages manager on every run, which would fall back to the pages-folder mode."""
    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]


def seed(services: Services, users: int, password_hash: str) -> None:
    """`users - 1` users plus bench-user, verified, all with the same hash, and a settings row each."""
    engine = services.database.engine
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, email, username, name, password_hash, email_verified_at) "
                "SELECT gen_random_uuid(), 'user' || n || '@bench.local', 'user' || n, 'User ' || n, "
                ":hash, now() FROM generate_series(1, :count) AS n"
            ),
            {"hash": password_hash, "count": users - 1},
        )
        connection.execute(
            sa.text(
                "INSERT INTO users (id, email, username, name, password_hash, email_verified_at) "
                "VALUES (gen_random_uuid(), :email, :username, 'Bench User', :hash, now())"
            ),
            {"email": f"{USERNAME}@bench.local", "username": USERNAME, "hash": password_hash},
        )
        connection.execute(sa.text("INSERT INTO user_settings (user_id) SELECT id FROM users"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE users")
        connection.exec_driver_sql("VACUUM ANALYZE user_settings")


def open_database(stack: contextlib.ExitStack, label: str, users: int, tmp: Path, hashed: str) -> Database:
    url = stack.enter_context(scratch_database(POSTGRES_ADMIN_URL, "bench"))
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=tmp / label,
        secret_key=secrets.token_urlsafe(36),  # 48 characters
        log_level="WARNING",
    )
    services = bootstrap.build_services(settings)
    stack.callback(services.close)
    services.database.migrate()
    sync_catalogue(services)
    started = time.perf_counter()
    seed(services, users, hashed)
    print(f"  {label}: {users:,} users seeded in {time.perf_counter() - started:.1f} s")
    database = Database(label, services)
    event.listen(services.database.engine, "before_cursor_execute", database.record)
    return database


def _checked(app: AppTest) -> AppTest:
    if app.exception:
        raise RuntimeError(
            "the app raised:\n"
            + "\n".join(f"{e.message}\n" + "\n".join(e.stack_trace) for e in app.exception)
        )
    return app


def sign_in_run(database: Database, password: str) -> tuple[float, AppTest, list[Statement], int]:
    """A fresh session signing in: (seconds of the "Sign in" run, the signed-in app, the statements of the
    whole visit, how many of them the "Sign in" run issued)."""
    with database.counting() as statements:
        app = _checked(AppTest.from_file(HOME, default_timeout=30).run())
        _checked(app.switch_page("pages/sign_in.py").run())
        app.text_input(key="sign_in.login").set_value(USERNAME)
        app.text_input(key="sign_in.password").set_value(password)
        button = next(button for button in app.button if button.label == "Sign in")
        before = len(statements)
        started = time.perf_counter()
        button.click().run()
        seconds = time.perf_counter() - started
    _checked(app)
    account = app.session_state["account"]
    if account is None or account.username != USERNAME:
        errors = [error.value for error in app.error]
        raise RuntimeError(f"the sign-in run did not end signed in as {USERNAME}: {errors}")
    return seconds, app, statements, len(statements) - before


def signed_in_run(database: Database, app: AppTest) -> tuple[float, list[Statement]]:
    with database.counting() as statements:
        started = time.perf_counter()
        app.run()
        seconds = time.perf_counter() - started
    _checked(app)
    if app.session_state["account"] is None:
        raise RuntimeError("a signed-in run ended signed out")
    return seconds, statements


def sequential_scans(database: Database, statements: list[Statement]) -> dict[str, int]:
    """Tables read by a sequential scan in the plans of these statements, with their row counts."""
    scans: dict[str, int] = {}
    engine = database.services.database.engine
    with engine.connect() as connection:
        for statement, parameters in statements:
            if parameters is None or not statement.lstrip().upper().startswith(
                ("SELECT", "UPDATE", "DELETE")
            ):
                continue
            plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
            for node in _nodes(plan[0]["Plan"]):
                if node["Node Type"] == "Seq Scan":
                    table = node["Relation Name"]
                    count = sa.select(sa.func.count()).select_from(sa.table(table))
                    scans[table] = connection.execute(count).scalar_one()
        connection.rollback()
    return scans


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


class Monitor(CpuMonitor):
    """CpuMonitor with the backends of both scratch databases counted as the bench database's."""

    def __init__(self, databases: list[Database]) -> None:
        self.names = [str(d.services.database.engine.url.database) for d in databases]
        super().__init__(self.names[0])

    def _label(self, pid: int, comm: str, top: dict[int, int]) -> str:
        label = super()._label(pid, comm, top)
        if label == "postgres (other dbs)":
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                return label
            if any(f" {name} " in cmdline for name in self.names):
                return "postgres (bench db)"
        return label


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3, help="untimed samples of each kind first")
    parser.add_argument("--users", type=int, default=100_000, help="users in the large database")
    args = parser.parse_args()

    _hermetic_environment()
    _navigation_only()
    password = secrets.token_urlsafe(16)
    hashed = hash_password(password)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="studio-bench-")))
        stack.callback(bootstrap.install, None)
        print("\nseeding")
        databases = [
            open_database(stack, "10 users", 10, tmp, hashed),
            open_database(stack, f"{args.users // 1000}k users", args.users, tmp, hashed),
        ]
        signed_in_apps: dict[str, AppTest] = {}
        monitor: Monitor | None = None
        # streamlit-authenticator prints some errors to stdout (e.g. the KeyError of deleting a cookie
        # this session does not have): kept out of the figures, and summed up below.
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            for n in range(args.warmup + args.runs):
                if n == args.warmup:
                    monitor = Monitor(databases)
                for database in databases if n % 2 == 0 else databases[::-1]:
                    bootstrap.install(database.services)
                    seconds, app, database.visit_sql, database.sign_in_count = sign_in_run(database, password)
                    signed_in_apps.setdefault(database.label, app)
                    if n >= args.warmup:
                        database.sign_in.append(seconds)
                    seconds, database.signed_in_sql = signed_in_run(database, signed_in_apps[database.label])
                    if n >= args.warmup:
                        database.signed_in.append(seconds)
        assert monitor is not None
        load = monitor.report()
        page = [title.value for title in signed_in_apps[databases[0].label].title]
        # Which tables the last sample's statements scan, planned on the large database.
        large = databases[-1]
        scans = sequential_scans(large, [*large.visit_sql, *large.signed_in_sql])

    small = databases[0]
    print(f"\n{args.runs} samples of each kind per database, alternating; signed-in page: {page}")
    for database in databases:
        for kind, values in (("sign-in run", database.sign_in), ("signed-in run", database.signed_in)):
            ms = [1000 * v for v in values]
            print(
                f"  {database.label:>11} {kind:<14} p50 {percentile(ms, 50):7.1f} ms  "
                f"p95 {percentile(ms, 95):7.1f} ms  max {max(ms):7.1f} ms"
            )
    print(
        "  SQL statements per run: "
        + ", ".join(
            f"{d.label}: sign-in {d.sign_in_count}, signed-in {len(d.signed_in_sql)}" for d in databases
        )
    )
    if scans:
        for table, rows in sorted(scans.items()):
            note = "  <- grows with the users" if rows >= LARGE_TABLE else ""
            print(f"  sequential scan in a plan on the {large.label} database: {table} ({rows:,} rows){note}")
    else:
        print(f"  no sequential scan in the plans of these statements on the {large.label} database")
    # Grouped with object ids masked, at most five kinds shown.
    lines = Counter(
        re.sub(r"id='?\d+'?|0x[0-9a-f]+", "id=...", line) for line in printed.getvalue().splitlines()
    )
    lines.pop("", None)
    if lines:
        shown = ", ".join(f"{line[:160]} (x{count})" for line, count in lines.most_common(5))
        print(
            f"  the app printed to stdout: {shown}"
            + (f", {len(lines) - 5} more kinds" if len(lines) > 5 else "")
        )
    print(f"  {load}")
    sign_in_ratio = percentile(large.sign_in, 50) / percentile(small.sign_in, 50)
    signed_in_ratio = percentile(large.signed_in, 50) / percentile(small.signed_in, 50)
    ok = sign_in_ratio <= TARGET and signed_in_ratio <= TARGET
    print(
        f"sign_in: p50 ratio {large.label} / {small.label}: sign-in run {sign_in_ratio:.3f}, "
        f"signed-in run {signed_in_ratio:.3f} (target each <= {TARGET}) -> {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
