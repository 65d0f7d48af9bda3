"""Credits: the kinds of rows in the append-only credit ledger."""

from enum import StrEnum


class LedgerKind(StrEnum):
    """Every change of a balance is one of these, with a reason and a reference."""

    GRANT = "grant"  # plan credits at the start of a cycle
    RESERVE = "reserve"  # held when a job is accepted
    SETTLE = "settle"  # the final charge of a finished job
    REFUND = "refund"  # a reservation given back (failed or cancelled job)
    ADJUST = "adjust"  # an admin's correction, with a required reason
    EXPIRE = "expire"  # unused credits at the end of a cycle
