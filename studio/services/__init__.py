"""Use cases: one function each, taking `services` first; the service owns the transaction. Grouped by the
context they serve, over a shared set below the contexts: context, dispatch, audit, mails, passwords, urls."""
