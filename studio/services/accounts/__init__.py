"""Accounts: sign-up and mail links, sign-in, sessions, single sign-on, two-factor, passwords, profile,
the export of a person's data and the deletion of an account."""
