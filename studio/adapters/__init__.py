"""Adapters: one per external system, each behind a small Protocol."""
