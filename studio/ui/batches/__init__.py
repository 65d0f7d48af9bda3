"""The Batch page: its form with the cost preview, and its list of batches with their controls."""
