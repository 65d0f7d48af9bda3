"""Billing pages' pieces: the plan cards and checkout, and the usage charts."""
