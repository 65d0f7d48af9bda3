"""How pages reach the studio's services."""

from studio import bootstrap
from studio.bootstrap import Services


def services() -> Services:
    return bootstrap.services()
