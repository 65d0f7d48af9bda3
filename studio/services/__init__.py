"""Use cases: one function each; the service owns the transaction."""
