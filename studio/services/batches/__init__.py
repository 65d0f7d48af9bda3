"""Batches: many prompts, seeds and models in one go (`runs`), their queue control (`control`), as pages
show them (`views`), and their ZIP with a manifest and a report (`export`). Every row is an ordinary
generation job; the fair queue (`studio.services.generation.fair`) takes turns between people."""
