"""A task that takes as long as it is told, for the tests of long tasks: loaded into a test worker with
Celery's --include, never into a deployed one. Each run appends "start <pid>" and "end <pid>" to a file, so a
test can count how often, and where, it ran."""

from __future__ import annotations

import os
import time

from workers.app import app
from workers.tasks import ListenerTask


@app.task(name="tests.sleep", base=ListenerTask)
def sleep(seconds: float, journal: str) -> None:
    with open(journal, "a", encoding="utf-8") as out:
        out.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with open(journal, "a", encoding="utf-8") as out:
        out.write(f"end {os.getpid()}\n")
