"""The distributed runtime: a Celery app on Redis (workers.app), its thin tasks (workers.tasks), the beat
schedule from the project file (workers.beat), the ledger that re-sends what Redis lost (workers.ledger),
dead letters (workers.deadletters) and the commands."""
