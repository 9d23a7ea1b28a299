"""Bounded concurrency for one Kubernetes source: at most `limit` requests in flight, however
many questions fan out at once (a log and a previous log per container, /metrics per pod, a
list per GPU node, a probe per service).

The bound is on requests, not on threads: each fan-out gets its own short-lived threads and
waits for a slot only around the HTTP call, so a fan-out that waits on a shared list never
holds a slot another fan-out needs (no deadlock however they nest). The client's connection
pool is sized to the same limit (kube_config), so no connection is opened and then dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from bot import logctx

T = TypeVar("T")

# 32 requests in flight: a 200-GPU-node cluster's per-node lists, and a few hundred log reads,
# finish in a handful of round trips, while a real API server's default max-requests-inflight
# (400 reads) leaves room for everyone else.
IN_FLIGHT = 32


class FanOut:
    def __init__(self, limit: int = IN_FLIGHT) -> None:
        self.limit = max(1, limit)
        self._slots = threading.BoundedSemaphore(self.limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            yield

    def map(self, fn: Callable[[Any], T], args: Iterable[Any]) -> list[T]:
        """fn over args, in order, up to `limit` at a time; the first error is raised."""
        items = list(args)
        if len(items) <= 1:
            return [fn(a) for a in items]
        workers = min(len(items), self.limit)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool:
            futures = [logctx.submit(pool, fn, a) for a in items]  # the request id follows
            return [f.result() for f in futures]
