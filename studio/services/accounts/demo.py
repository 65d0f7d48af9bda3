"""The development sign-in: demo accounts for embedded mode, until real accounts exist.

Refused on the server unless DEV_SIGN_IN is on, which Settings allows only in embedded mode.
"""

from __future__ import annotations

from studio.adapters.db.models import User, utcnow
from studio.domain.accounts import Account, Role
from studio.errors import Forbidden
from studio.services.accounts.sessions import to_account
from studio.services.billing.plans import start_free_plan
from studio.services.context import Services

DEMO_ACCOUNTS = {
    Role.USER: ("demo@studio.local", "demo", "Demo User"),
    Role.ADMIN: ("admin@studio.local", "admin", "Demo Admin"),
}


def sign_in_demo(services: Services, role: Role) -> Account:
    """The demo account for `role`, created on first use."""
    if not services.settings.dev_sign_in_enabled:
        raise Forbidden("The development sign-in is off on this server.")
    email, username, name = DEMO_ACCOUNTS[role]
    with services.uow() as uow:
        user = uow.users.get_by_email(email)
        if user is None:
            user = User(
                email=email, username=username, name=name, role=role.value, email_verified_at=utcnow()
            )
            uow.users.add(user)
            start_free_plan(uow.session, user.id)
        account = to_account(user)
        uow.commit()
    return account
