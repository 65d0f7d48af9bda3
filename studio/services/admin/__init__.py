"""Admin: users and credits, plans, models, the job queue, the audit log and the system's health."""
