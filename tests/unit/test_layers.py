"""The layers and the house of ARCHITECTURE.md, enforced on every import of every file.

Layers:
- pages and Home.py: UI only; no IO library, no adapters (they call services)
- studio/: imports streamlit only in studio/ui/, because the worker imports studio
- studio/domain/: pure rules, standard library only

The house (every import counts: function-local and TYPE_CHECKING ones too):
- no import circle among the modules of studio/ (a package counts as imported with its modules);
- the composition root is on top: services never import studio.bootstrap, studio.startup or studio.jobs;
- contexts reach each other downwards only (CONTEXTS below, each layer's order) and only through public
  modules and names; the shared modules of a layer reach no context;
- services queue jobs only through studio/services/dispatch.py, whose job names are studio.jobs functions;
- a public use case takes `services` first; no page, UI module or route builds a unit of work; what
  takes a session is only called inside services;
- the exceptions defined outside studio/errors.py are private control flow;
- tests import helpers from tests/support/, never another test module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.support.env import ROOT

IO_LIBRARIES = {
    "sqlalchemy", "alembic", "boto3", "botocore", "stripe", "fal_client", "redis", "rq", "psycopg", "httpx",
    "requests", "smtplib", "sqlite3", "socket", "starlette", "uvicorn",
}  # fmt: skip
PAGE_MAY_IMPORT = {"streamlit", "studio.ui", "studio.services", "studio.domain", "studio.errors"}
DOMAIN_MAY_USE_FROM_STDLIB = {
    "__future__", "abc", "base64", "calendar", "collections", "csv", "dataclasses", "datetime", "decimal",
    "enum", "fractions", "functools", "hashlib", "io", "ipaddress", "itertools", "json", "math", "operator",
    "re", "string", "textwrap",
    "typing", "uuid", "zoneinfo",
}  # fmt: skip
#: The contexts of each layer, lowest first: a context may import the ones before it, never the ones after.
CONTEXTS = {
    "services": ("billing", "prompts", "generation", "library", "batches", "accounts", "analytics", "admin"),
    "ui": (
        "shell",
        "billing",
        "generation",
        "prompts",
        "library",
        "batches",
        "accounts",
        "analytics",
        "admin",
    ),
}
COMPOSITION_ROOT = {"studio.bootstrap", "studio.startup", "studio.jobs"}
ENTRY_POINTS = ["studio/ui", "studio/web", "studio/jobs.py", "studio/startup.py", "studio/__main__.py",
                "worker.py", "Home.py", "pages"]  # fmt: skip


def imports(path: Path) -> set[str]:
    """Every module a file imports, by full dotted name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def within(module: str, packages: set[str]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


PAGES = sorted([ROOT / "Home.py", *(ROOT / "pages").glob("*.py")])
STUDIO = sorted((ROOT / "studio").rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in STUDIO}


def _existing(name: str) -> str | None:
    """The studio module `name` names, or the module that defines it (`pkg.module.function`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@cache
def studio_imports(module: str) -> dict[str, set[str]]:
    """The studio modules `module` imports (its packages included), each with the names it takes."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[tuple[str, str | None]] = []
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append((submodule, None) if submodule in MODULES else (base, alias.name))
        for target, name in targets:
            resolved = _existing(target) if target.startswith("studio") else None
            if resolved is None or resolved == module:
                continue
            found.setdefault(resolved, set()).update([name] if name else [])
            parts = resolved.split(".")
            for n in range(1, len(parts)):  # importing a.b.c runs a and a.b first
                parent = ".".join(parts[:n])
                if parent in MODULES and parent != module and not module.startswith(parent + "."):
                    found.setdefault(parent, set())
    return found


def test_there_are_pages_and_modules_to_check() -> None:
    assert len(PAGES) >= 3
    assert len(STUDIO) >= 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_only_read_inputs_and_call_services(page: Path) -> None:
    for module in imports(page):
        assert not within(module, IO_LIBRARIES), f"{page.name} imports the IO library {module}"
        top = module.split(".")[0]
        if top in sys.stdlib_module_names:
            continue
        assert within(module, PAGE_MAY_IMPORT), f"{page.name} imports {module}: call a service instead"


@pytest.mark.parametrize("path", STUDIO, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_studio_ui_imports_streamlit(path: Path) -> None:
    if path.is_relative_to(ROOT / "studio" / "ui"):
        return
    for module in imports(path):
        assert not within(module, {"streamlit", "studio.ui"}), f"{path} imports {module}"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "studio" / "domain").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_domain_is_pure(path: Path) -> None:
    for module in imports(path):
        if within(module, {"studio.domain", "studio.errors"}):
            continue
        top = module.split(".")[0]
        assert top in DOMAIN_MAY_USE_FROM_STDLIB, f"{path} imports {module}: the domain does no IO"


def test_the_worker_never_loads_streamlit() -> None:
    """Import worker.py and every studio module outside studio/ui, then look at what got loaded."""
    check = (
        "import importlib, pkgutil, sys, studio, worker\n"
        "for info in pkgutil.walk_packages(studio.__path__, 'studio.'):\n"
        "    if not info.name.startswith('studio.ui') and info.name != 'studio.migrations.env':\n"
        "        importlib.import_module(info.name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.'))\n"
        "print(len(loaded)); sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the house ------------------------------------------------------------------------------------------


def a_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph (its modules in order, the first again at the end), or None."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := walk(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_the_circle_check_finds_a_circle() -> None:
    assert a_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert a_circle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) is None


def test_no_import_circle_in_studio() -> None:
    edges = {module: set(studio_imports(module)) for module in MODULES}
    circle = a_circle(edges)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


SERVICES = sorted(name for name in MODULES if name.startswith("studio.services"))


@pytest.mark.parametrize("module", SERVICES)
def test_services_never_import_the_composition_root(module: str) -> None:
    reached = set(studio_imports(module)) & COMPOSITION_ROOT
    assert not reached, f"{module} imports {sorted(reached)}: take `services`, queue jobs through dispatch"


def context_of(module: str) -> tuple[str, str | None] | None:
    """(layer, context) of a module of studio/services or studio/ui; context None for the shared ones."""
    parts = module.split(".")
    if len(parts) < 3 or parts[1] not in CONTEXTS:
        return None
    layer = parts[1]
    return layer, parts[2] if parts[2] in CONTEXTS[layer] else None


def context_problems(imported: list[tuple[str, str, set[str]]]) -> list[str]:
    """What breaks the context rule among (module, imported module, names taken) triples."""
    problems = []
    for module, target, names in imported:
        layer, source = context_of(module) or ("", None)
        target_layer, destination = context_of(target) or ("", None)
        if not layer or layer != target_layer or source == destination or destination is None:
            continue  # another layer, the same context, or the shared modules of this layer
        order = CONTEXTS[layer]
        if source is None:
            problems.append(f"{module} is shared by the contexts but imports the context module {target}")
        elif order.index(destination) > order.index(source):
            problems.append(f"{module} ({source}) imports {target}: {destination} sits above {source}")
        if target.rpartition(".")[2].startswith("_") or any(name.startswith("_") for name in names):
            problems.append(f"{module} takes private names of {target}: {sorted(names)}")
    return problems


def test_contexts_reach_each_other_downwards_and_through_public_names_only() -> None:
    imported = [(m, t, names) for m in MODULES for t, names in studio_imports(m).items()]
    assert context_problems(imported) == []


def test_the_context_rule_refuses_upward_private_and_shared_imports() -> None:
    s = "studio.services"
    assert context_problems([(f"{s}.generation.submissions", f"{s}.billing.ledger", {"balance"})]) == []
    assert len(context_problems([(f"{s}.billing.plans", f"{s}.generation.lifecycle", set())])) == 1
    assert len(context_problems([(f"{s}.library.gallery", f"{s}.generation.views", {"_owned"})])) == 1
    assert len(context_problems([(f"{s}.mails", f"{s}.accounts.sessions", set())])) == 1
    assert len(context_problems([("studio.ui.shell.navigation", "studio.ui.library.gallery", set())])) == 1


def test_services_queue_jobs_only_through_dispatch() -> None:
    problems = []
    for module in SERVICES:
        if module == "studio.services.dispatch":
            continue
        tree = ast.parse(MODULES[module].read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("enqueue", "queue_names"):
                chain = ast.unparse(node)
                if chain.endswith((".queue.enqueue", ".queue_names")):
                    problems.append(f"{module}:{node.lineno} {chain}")
    assert problems == [], "queue through studio.services.dispatch (it owns the queue choice)"


def test_every_job_name_dispatch_uses_is_a_job_function() -> None:
    from studio.services import dispatch

    jobs = {node.name for node in ast.parse(MODULES["studio.jobs"].read_text()).body
            if isinstance(node, ast.FunctionDef)}  # fmt: skip
    assert dispatch.JOBS
    for name in dispatch.JOBS:
        module, _, function = name.rpartition(".")
        assert module == "studio.jobs", name
        assert function in jobs, name


def public_functions(module: str) -> Iterator[ast.FunctionDef]:
    for node in ast.parse(MODULES[module].read_text()).body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            yield node


def annotation(argument: ast.arg) -> str:
    return ast.unparse(argument.annotation) if argument.annotation is not None else ""


def test_public_services_take_services_first_and_never_a_unit_of_work() -> None:
    problems = []
    for module in SERVICES:
        for function in public_functions(module):
            arguments = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
            kinds = [annotation(argument) for argument in arguments]
            if "Services" in kinds[1:]:
                problems.append(f"{module}.{function.name}: `services` comes first")
            if any("UnitOfWork" in kind for kind in kinds):
                problems.append(f"{module}.{function.name} takes a unit of work: take `services`")
    assert problems == []


def entry_point_files() -> list[Path]:
    found: list[Path] = []
    for entry in ENTRY_POINTS:
        path = ROOT / entry
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def test_no_page_ui_module_or_route_builds_a_unit_of_work() -> None:
    problems = []
    for path in [*PAGES, *(ROOT / "studio" / "ui").rglob("*.py"), *(ROOT / "studio" / "web").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "uow":
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert problems == [], "call a service; it owns the transaction"


def test_what_takes_a_session_is_only_called_inside_services() -> None:
    in_transaction = {
        (module, function.name)
        for module in SERVICES
        for function in public_functions(module)
        if function.args.args and annotation(function.args.args[0]) == "Session"
    }
    assert in_transaction, "the check needs the in-transaction helpers to exist"
    problems = []
    for path in entry_point_files():
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("studio"):
                for alias in node.names:
                    if (node.module, alias.name) in in_transaction:
                        problems.append(f"{path.relative_to(ROOT)} imports {node.module}.{alias.name}")
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        used = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute)]
        for node in used:
            owner = aliases.get(node.value.id, "") if isinstance(node.value, ast.Name) else ""
            if (owner, node.attr) in in_transaction:
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert problems == []


def test_the_errors_defined_outside_errors_py_are_private() -> None:
    tree = ast.parse((ROOT / "studio" / "errors.py").read_text())
    errors = {node.name for node in tree.body if isinstance(node, ast.ClassDef)} | {"Exception"}
    problems = []
    for path in STUDIO:
        if path == ROOT / "studio" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            bases = {ast.unparse(base).rpartition(".")[2] for base in getattr(node, "bases", [])}
            if isinstance(node, ast.ClassDef) and bases & errors and not node.name.startswith("_"):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert problems == [], "studio errors join the tree in studio/errors.py"


def test_tests_import_helpers_from_support_never_another_test_module() -> None:
    problems = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for module in imports(path):
            last = module.rpartition(".")[2]
            if module.startswith("tests") and (last.startswith("test_") or last == "conftest"):
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert problems == []
