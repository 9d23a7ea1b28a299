"""Fire a runbook's cron schedule inside `gpubot serve` (the store's claim makes it once-only),
and run periodic jobs such as the sweep for fixes a dead process left mid-apply."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from bot import logctx
from bot.model.playbook import Schedule

log = logging.getLogger("gpubot.schedule")


def next_fire(schedule: Schedule, after: datetime) -> datetime:
    """The next time the cron expression fires, in the schedule's own time zone, as UTC."""
    tz = ZoneInfo(schedule.timezone)
    local = croniter(schedule.cron, after.astimezone(tz)).get_next(datetime)
    return local.astimezone(UTC)


class Scheduler(threading.Thread):
    def __init__(self, schedule: Schedule, job: Callable[[datetime], None], *, name: str) -> None:
        super().__init__(daemon=True, name=f"schedule-{name}")
        self.schedule, self.job = schedule, job
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            now = datetime.now(UTC)
            when = next_fire(self.schedule, now)
            if self.stopped.wait((when - now).total_seconds()):
                return
            with logctx.request("schedule"):
                try:
                    log.info("scheduled job %s firing", self.name)
                    self.job(when)
                except Exception:  # a failed report must not stop tomorrow's
                    log.exception("scheduled job %s failed", self.name)

    def stop(self) -> None:
        self.stopped.set()


class Every(threading.Thread):
    """Run `job` every `seconds` until stopped (the fix sweep): a failed run is logged and the
    next one still comes."""

    def __init__(
        self, seconds: float, job: Callable[[], object], *, name: str, now: bool = False
    ) -> None:
        super().__init__(daemon=True, name=f"every-{name}")
        self.seconds, self.job, self.now = seconds, job, now
        self.stopped = threading.Event()

    def run(self) -> None:
        if self.now:
            self._once()
        while not self.stopped.wait(self.seconds):
            self._once()

    def _once(self) -> None:
        with logctx.request("schedule"):
            try:
                self.job()
            except Exception:  # e.g. the store briefly unreachable: try again next time
                log.exception("periodic job %s failed", self.name)

    def stop(self, timeout: float | None = None) -> None:
        self.stopped.set()
        if timeout is not None and self.is_alive():
            self.join(timeout=timeout)
