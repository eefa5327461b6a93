"""The Celery app (`celery -A workers.app worker -Q score`): built from the environment, tasks in workers.tasks,
the beat schedule from the project file (workers.beat)."""

from celery import Celery

from workers.beat import schedule_from_env
from workers.config import celery_config

app = Celery("listener", include=["workers.tasks"])
app.conf.update(celery_config())
app.conf.beat_schedule = schedule_from_env()
