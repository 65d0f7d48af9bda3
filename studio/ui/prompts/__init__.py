"""The prompt library's page and its pickers on Generate."""
