"""The admin pages' pieces: analytics figures, users, plans and the job queue."""
