"""A running apply's heartbeat: it keeps the request's lease (and its target's hold) fresh.

A request `applying` whose lease was not renewed for `fixes.apply_lease_seconds` belongs to a
process that died; any replica's sweep (bot.engine.guard_apply.Applier.recover) then marks it
interrupted. The heartbeat is what tells a slow apply (ARM taking minutes) from a dead one, so
the lease can be short and an orphan is reported within about one lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("gpubot.fixes")


class Heartbeat:
    """Calls `beat()` every `every_seconds` from a daemon thread while the `with` block runs.

    `beat` returns False when the lease is no longer ours (another replica gave the request
    up): the heartbeat then stops, and the apply's own end records what happened."""

    def __init__(self, beat: Callable[[], bool], *, every_seconds: float, name: str) -> None:
        self.beat, self.every = beat, every_seconds
        self.stopped = threading.Event()
        self.beats = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{name}")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopped.set()
        self._thread.join(timeout=self.every + 30)

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                mine = self.beat()
            except Exception as exc:  # a store hiccup: try again next beat, the lease has slack
                log.warning("%s missed a beat: %s", self._thread.name, type(exc).__name__)
                continue
            self.beats += 1
            if not mine:
                log.warning("%s: the lease is no longer ours; stopping", self._thread.name)
                return
