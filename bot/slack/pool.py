"""A bounded work pool: accept work only while a slot is free, so callers can say "busy"."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from bot import logctx


class JobPool:
    def __init__(self, workers: int = 4, queue: int = 8) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="diagnosis")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self.active = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any] | None:
        """None when every worker is busy and the queue is full."""
        if not self._slots.acquire(blocking=False):
            return None
        with self._lock:
            self.active += 1
        future = logctx.submit(self._executor, fn, *args)  # the request id goes with the job
        future.add_done_callback(self._release)
        return future

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            self.active -= 1
        self._slots.release()

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)
