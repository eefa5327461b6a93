"""Dead letters: the tasks that failed for good (retries used up, or input that can never succeed), kept in a
Redis list with their arguments, error and traceback until someone retries or drops them (`listener dlq`).
Nothing a worker gives up on is dropped silently."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

KEY = "listener:dead-letters"


@dataclass
class DeadLetter:
    task: str  # the task name, e.g. listener.score_batch
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    error: str  # "ExceptionType: message"
    traceback: str
    retries: int = 0
    failed_at: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    task_id: str = ""

    def summary(self) -> dict[str, Any]:
        """Everything but the arguments (a batch can be large), plus their size."""
        out = {k: v for k, v in asdict(self).items() if k not in ("args", "kwargs", "traceback")}
        out["size"] = len(json.dumps([self.args, self.kwargs]))
        return out


class DeadLetters:
    """The dead-letter list of one Redis database. Newest last; ids are short and unique."""

    def __init__(self, client):
        self.redis = client

    @classmethod
    def from_url(cls, url: str) -> "DeadLetters":
        import redis

        return cls(redis.Redis.from_url(url))

    def add(self, letter: DeadLetter) -> None:
        self.redis.rpush(KEY, json.dumps(asdict(letter)))

    def all(self) -> list[DeadLetter]:
        return [DeadLetter(**json.loads(raw)) for raw in self.redis.lrange(KEY, 0, -1)]

    def __len__(self) -> int:
        return self.redis.llen(KEY)

    def take(self, ids: list[str] | None) -> list[DeadLetter]:
        """Remove and return the letters with these ids (every letter when ids is None). Raises KeyError
        naming the ids that are not there, removing nothing."""
        raw_by_id = {json.loads(raw)["id"]: raw for raw in self.redis.lrange(KEY, 0, -1)}
        wanted = list(raw_by_id) if ids is None else ids
        unknown = [i for i in wanted if i not in raw_by_id]
        if unknown:
            raise KeyError(f"no dead letter with id {', '.join(unknown)} (see `listener dlq list`)")
        taken = []
        for letter_id in wanted:
            if self.redis.lrem(KEY, 1, raw_by_id[letter_id]):  # another `dlq retry` may have taken it first
                taken.append(DeadLetter(**json.loads(raw_by_id[letter_id])))
        return taken

    def retry(self, app, ids: list[str] | None) -> list[str]:
        """Send these letters' tasks again, with their original arguments, to their queues; returns task ids.
        A letter leaves the list only once its task is sent again."""
        from workers import ledger

        sent = []
        for letter in self.take(ids):
            try:
                sent.append(ledger.send(app, self.redis, letter.task, args=letter.args, kwargs=letter.kwargs,
                                        queue=letter.queue))
            except Exception:
                self.add(letter)  # not sent: keep it
                raise
        return sent
