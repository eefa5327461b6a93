"""The distributed runtime: a Celery app on Redis (workers.app), its thin tasks (workers.tasks), the beat
schedule from the project file (workers.beat), dead letters (workers.deadletters) and the commands."""
