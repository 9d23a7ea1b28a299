"""Single flight for the lists several Kubernetes questions need (nodes, GPU-node pods,
pending and KAITO pods): the first asker fetches, everyone asking while that fetch runs or
within `fresh_seconds` after it gets the same list.

Kept short on purpose: a run's questions start together, so a couple of seconds covers them,
and a re-check after a fix must see the cluster afresh (`forget()`).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

Fetch = Callable[[], Any]


class SharedLists:
    def __init__(self, fresh_seconds: float = 2.0) -> None:
        self.fresh_seconds = fresh_seconds
        self._lock = threading.Lock()
        self._held: dict[Hashable, tuple[float, Future[Any]]] = {}

    def get(self, key: Hashable, fetch: Fetch) -> Any:
        """The shared list, fetched in this thread when nobody holds a fresh one."""
        future, owner = self._claim(key)
        if owner:
            self._fill(key, future, fetch)
        return future.result()

    def start(self, key: Hashable, fetch: Fetch) -> Future[Any]:
        """The same, without waiting: a fetch nobody holds yet starts in its own thread, so
        the caller can do other work (read the first page of pods) while it runs."""
        future, owner = self._claim(key)
        if owner:
            context = contextvars.copy_context()  # the request id follows into the thread
            worker = threading.Thread(
                target=context.run,
                args=(self._fill, key, future, fetch),
                name=f"share-{key}",
                daemon=True,
            )
            worker.start()
        return future

    def forget(self) -> None:
        with self._lock:
            self._held.clear()

    def _claim(self, key: Hashable) -> tuple[Future[Any], bool]:
        with self._lock:
            held = self._held.get(key)
            if held is not None and (
                not held[1].done() or time.monotonic() - held[0] < self.fresh_seconds
            ):
                return held[1], False
            future: Future[Any] = Future()
            self._held[key] = (time.monotonic(), future)
            return future, True

    def _fill(self, key: Hashable, future: Future[Any], fetch: Fetch) -> None:
        try:
            future.set_result(fetch())
        except BaseException as exc:  # every waiter sees the failure; the next asker retries
            future.set_exception(exc)
            with self._lock:
                if self._held.get(key, (0.0, None))[1] is future:
                    del self._held[key]
            return
        with self._lock:  # fresh from when it arrived, not from when it was asked
            if self._held.get(key, (0.0, None))[1] is future:
                self._held[key] = (time.monotonic(), future)
