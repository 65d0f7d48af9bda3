"""The dashboard and a person's usage statistics."""
