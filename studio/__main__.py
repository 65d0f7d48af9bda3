"""Command line: `python -m studio check` (validate the settings), `migrate`, and `create-admin` (the first
administrator, or promote an existing account)."""

from __future__ import annotations

import argparse
import getpass
import sys

from studio import bootstrap
from studio.services.accounts import signup
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


def create_admin(args: argparse.Namespace) -> int:
    """Create a verified administrator (the password from stdin or asked twice), or promote an account."""
    from studio.errors import InvalidForm, StudioError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat it: ") != password:
            print("The two passwords are not the same.", file=sys.stderr)  # noqa: T201
            return 2
    services = bootstrap.or_exit(bootstrap.services)
    services.database.migrate()
    try:
        account = signup.create_admin(
            services,
            email=args.email,
            username=args.username,
            name=args.name or args.username,
            password=password,
        )
    except StudioError as err:
        problems = err.problems if isinstance(err, InvalidForm) else [str(err)]
        print("\n".join(problems), file=sys.stderr)  # noqa: T201
        return 2
    finally:
        services.close()
    print(f"{account.username} <{account.email}> is an administrator")  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio", description="The studio's command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate the settings and show which services they select")
    commands.add_parser("migrate", help="apply pending database migrations")
    admin = commands.add_parser("create-admin", help="create the first administrator, or promote an account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--username", required=True)
    admin.add_argument("--name", default="")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    if args.command == "create-admin":
        return create_admin(args)
    return {"check": check, "migrate": migrate}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
