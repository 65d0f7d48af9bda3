"""Billing: the credit ledger, plans and their monthly cycles, Stripe checkout and webhooks, usage."""
