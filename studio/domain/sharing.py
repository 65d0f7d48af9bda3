"""Sharing: what a share link can point at."""

from enum import StrEnum


class ShareTarget(StrEnum):
    IMAGE = "image"
    PROJECT = "project"
    COLLECTION = "collection"
