"""Command line: `python -m studio check` (validate the settings) and `python -m studio migrate`."""

from __future__ import annotations

import argparse
import sys

from studio import bootstrap
from studio.settings import load


def check() -> int:
    """Refuse unusable settings with a message per setting; otherwise say which services will be used."""
    settings = bootstrap.or_exit(lambda: load().validated())
    described = settings.describe()
    print(", ".join(f"{part}: {value}" for part, value in described.items()))  # noqa: T201
    return 0


def migrate() -> int:
    """Apply every pending migration to the configured database."""
    bootstrap.or_exit(bootstrap.services).database.migrate()
    print("the database schema is up to date")  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio", description="The studio's command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate the settings and show which services they select")
    commands.add_parser("migrate", help="apply pending database migrations")
    args = parser.parse_args(argv)
    return {"check": check, "migrate": migrate}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
