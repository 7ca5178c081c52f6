"""Running the service: background training jobs (state, start, the job process), pausing them
while visitors are answered, who may change the models, and the timing log."""
