"""The Generate page's pieces: the request form, the model parameters, and the jobs in progress."""
