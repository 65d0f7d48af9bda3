"""Sharing: what a share link can point at, and how a link behaves."""

from dataclasses import dataclass
from enum import StrEnum

from studio.errors import InvalidInput


class ShareTarget(StrEnum):
    IMAGE = "image"
    PROJECT = "project"
    COLLECTION = "collection"


@dataclass(frozen=True)
class ShareOptions:
    """How a share link behaves: when it stops working, whether it asks for a password, whether the files
    can be downloaded."""

    expires_in_days: int | None = 7
    password: str | None = None
    allow_download: bool = True

    def __post_init__(self) -> None:
        if self.expires_in_days is not None and not 1 <= self.expires_in_days <= 365:
            raise InvalidInput("A share link lasts 1 to 365 days, or never expires.")
        if self.password is not None and not 4 <= len(self.password) <= 72:
            raise InvalidInput("A share password is 4 to 72 characters.")
