"""The layers of ARCHITECTURE.md, enforced on every import of every file.

- pages and Home.py: UI only; no IO library, no adapters (they call services)
- studio/: imports streamlit only in studio/ui/, because the worker imports studio
- studio/domain/: pure rules, standard library only
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

IO_LIBRARIES = {
    "sqlalchemy", "alembic", "boto3", "botocore", "stripe", "fal_client", "redis", "rq", "psycopg", "httpx",
    "requests", "smtplib", "sqlite3", "socket", "starlette", "uvicorn",
}  # fmt: skip
PAGE_MAY_IMPORT = {"streamlit", "studio.ui", "studio.services", "studio.domain", "studio.errors"}
DOMAIN_MAY_USE_FROM_STDLIB = {
    "__future__", "abc", "base64", "calendar", "collections", "dataclasses", "datetime", "decimal", "enum",
    "fractions", "functools", "hashlib", "itertools", "json", "math", "operator", "re", "string", "textwrap",
    "typing", "uuid", "zoneinfo",
}  # fmt: skip


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
