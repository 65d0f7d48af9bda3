"""Benchmarks of the studio against the real stack (not tests: they print measurements)."""
