"""Long work as jobs: the state machine, the embedded and Celery executors, the reaper."""
