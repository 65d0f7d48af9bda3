"""The studio: a self-hostable, multi-user AI image studio."""
