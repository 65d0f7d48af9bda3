"""Generation: the model catalogue, submitting and following jobs, the worker's pipeline, the job rows'
lifecycle and the reconciler."""
