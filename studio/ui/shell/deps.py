"""How pages reach the studio's services."""

from studio import bootstrap
from studio.services.context import Services


def services() -> Services:
    return bootstrap.services()
