"""Diagnoses that survive a restart: each accepted diagnosis is a job row (bot/store/jobs.py);
this process renews the lease on its own jobs, and re-runs the jobs of a process that died.

The heartbeat thread renews every job this process holds, then sweeps: it claims jobs whose
lease lapsed (one replica wins each claim), and re-runs them in the same pool and through the
same `deliver`, updating the progress message that is already in the channel. A job that has
been started `job_attempts` times is given up with a message instead, so a diagnosis that kills
the process cannot crash-loop the bot.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import timedelta

from slack_sdk import WebClient

from bot import logctx
from bot.engine.service import Diagnoser
from bot.model.context import Scope
from bot.slack.decorate import Decorator
from bot.slack.delivery import TakenOver, deliver, failure_reason
from bot.slack.pool import JobPool
from bot.slack.schedule import Every
from bot.slack.settings import SlackConfig
from bot.store.db import Store
from bot.store.jobs import Job, JobSpec

log = logging.getLogger("gpubot.jobs")
RESTARTED = "gpubot restarted during this diagnosis"
PRUNE_EVERY_S = 3600.0
RETENTION = timedelta(days=7)  # finished jobs and dedupe keys older than this are pruned


def owner_id() -> str:
    """Unique per process, readable in the table: host (the pod), pid, and a nonce."""
    return f"{socket.gethostname()[:200]}:{os.getpid()}:{secrets.token_hex(4)}"


class _Tracker:
    """What `deliver` reports back: where the progress message is, and the delivery fence."""

    def __init__(self, keeper: JobKeeper, job: Job) -> None:
        self.keeper, self.job = keeper, job

    def posted(self, channel: str, ts: str) -> None:
        self.keeper.store.jobs.posted(self.job.id, self.keeper.owner, channel, ts)

    def may_deliver(self) -> bool:
        return self.keeper.store.jobs.begin_delivery(self.job.id, self.keeper.owner)

    def replies_done(self) -> int:
        job = self.keeper.store.jobs.get(self.job.id)
        return job.replies_posted if job is not None else 0

    def replied(self, count: int) -> None:
        try:
            self.keeper.store.jobs.replied(self.job.id, self.keeper.owner, count)
        except Exception as exc:  # only a resume needs it, and at worst it repeats replies
            log.warning(
                "job %s: could not record %d replies posted: %s",
                self.job.id,
                count,
                type(exc).__name__,
            )


class JobKeeper:
    def __init__(
        self,
        *,
        store: Store,
        client: WebClient,
        config: SlackConfig,
        diagnoser: Diagnoser,
        decorator: Decorator,
        pool: JobPool,
    ) -> None:
        self.store, self.client, self.diagnoser = store, client, diagnoser
        self.decorator, self.pool = decorator, pool
        self.owner = owner_id()
        self.heartbeat_s = config.job_heartbeat_seconds
        self.lease = timedelta(seconds=config.job_lease_seconds)
        self.max_attempts = config.job_attempts
        # set by the app: re-runs an alert job whose thread bookkeeping had not happened yet
        self.resume_alert: Callable[[Job], None] | None = None
        self._beats: Every | None = None
        self._pruned_at: float | None = None

    # ---- the life of one job -------------------------------------------------------------

    def accept(self, spec: JobSpec) -> Job:
        return self.store.jobs.create(spec, owner=self.owner)

    def fail(self, job: Job, reason: str) -> None:
        """The job ends without a summary (no free worker, an error): nothing to resume."""
        self.store.jobs.finish(job.id, self.owner, "failed", reason)

    def execute(self, job: Job, *, resumed: bool = False) -> None:
        """Run and deliver the diagnosis, then mark the job done (failed if it raised)."""
        if not self.store.jobs.start(job.id, self.owner):
            log.warning("job %s is no longer ours; another replica runs it", job.id)
            return
        spec = job.spec
        scope = Scope(spec.namespace, spec.workspace)
        try:
            ts, _ = deliver(
                self.client,
                channel=job.channel,
                thread_ts=job.thread_ts,
                progress_ts=job.progress_ts,
                title=f"{spec.title} — re-run: {RESTARTED}" if resumed else spec.title,
                total=spec.total,
                run=lambda progress: self.diagnoser.run(
                    spec.cluster,
                    runbook=spec.runbook or "triage",
                    playbooks=spec.playbooks,
                    scope=scope,
                    on_finding=progress,
                ),
                decorate=functools.partial(self.decorator.decorate, scope=scope),
                trigger="slash" if spec.trigger == "slash" else "alert",
                tracker=_Tracker(self, job),
            )
        except TakenOver:
            log.warning("job %s was taken over by another replica; its summary is theirs", job.id)
            return
        except Exception as exc:
            self.fail(job, type(exc).__name__)
            raise
        self.store.jobs.finish(job.id, self.owner, "done")
        if resumed:
            who = f" <@{spec.requester}> asked for it." if spec.requester else ""
            self._post(
                job.channel,
                job.thread_ts or ts,
                f":arrows_counterclockwise: {RESTARTED} and re-ran it "
                f"(run {job.attempts} of {self.max_attempts}).{who}",
            )

    def give_up(self, job: Job) -> None:
        runs = job.attempts - 1
        who = f"<@{job.spec.requester}> " if job.spec.requester else ""
        text = (
            f":warning: {who}{RESTARTED} {runs} times, so it is not run again: "
            f"{job.spec.title}. Run it again by hand if it is still needed; the bot's logs "
            "may say what stopped it."
        )
        if job.progress_ts is None or not self._update(job.channel, job.progress_ts, text):
            self._post(job.channel, job.thread_ts, text)
        self.store.jobs.finish(job.id, self.owner, "gave_up", f"restarted during {runs} runs")
        log.warning("job %s given up after %d runs", job.id, runs)

    # ---- heartbeat and sweep -------------------------------------------------------------

    def sweep(self) -> int:
        """Claim and re-run (or give up) the jobs of dead processes; returns how many."""
        taken = 0
        for orphan in self.store.jobs.orphans(self.lease):
            job = self.store.jobs.claim(orphan.id, self.owner, self.lease)
            if job is None:
                continue  # another replica claimed it first
            with logctx.request("resume"):
                log.info(
                    "job %s (%s, %s) left by %s: run %d of %d",
                    job.id,
                    job.spec.trigger,
                    job.status,
                    orphan.owner,
                    job.attempts,
                    self.max_attempts,
                )
                work = self.give_up if job.attempts > self.max_attempts else self._resume
                if self.pool.submit(work, job) is None:
                    self.store.jobs.release(job.id, self.owner)  # the next sweep tries again
                    break
            taken += 1
        return taken

    def _resume(self, job: Job) -> None:
        try:
            if job.spec.trigger != "slash" and job.status == "queued" and self.resume_alert:
                self.resume_alert(job)  # the alert's thread was not decided yet
            else:
                self.execute(job, resumed=True)
        except Exception as exc:
            log.exception("resumed job %s failed", job.id)
            self._tell_requester(job, failure_reason(exc))

    def _tell_requester(self, job: Job, why: str) -> None:
        """A resumed /gpu has no response_url any more: tell whoever asked, only them, in the
        channel they asked in. Best effort: if Slack refuses this too, the log has it."""
        requester = job.spec.requester
        if job.spec.trigger != "slash" or not requester:
            return
        text = (
            f":x: {RESTARTED}, re-ran it and could not post the result here ({why}): "
            f"{job.spec.title}. Run `/gpu` again, or check the bot's logs."
        )
        try:
            self.client.chat_postEphemeral(channel=job.channel, user=requester, text=text)
        except Exception as exc:
            log.warning(
                "could not tell %s that job %s failed: %s", requester, job.id, failure_reason(exc)
            )

    def start(self) -> None:
        """Renew and sweep every `job_heartbeat_seconds` in the background (first: now)."""
        self._beats = Every(self.heartbeat_s, self.beat, name="diagnosis-jobs", now=True)
        self._beats.start()

    def stop(self) -> None:
        if self._beats is not None:
            self._beats.stop(timeout=30)

    def beat(self) -> None:
        """One heartbeat: renew this process's jobs, take over orphans, prune now and then.
        A failure (the database away) is logged by `Every`; the next beat tries again."""
        self.store.jobs.heartbeat(self.owner)
        self.sweep()
        if self._pruned_at is None or time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
            self.store.prune(RETENTION)
            self._pruned_at = time.monotonic()

    # ---- Slack, best effort --------------------------------------------------------------

    def _update(self, channel: str, ts: str, text: str) -> bool:
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text)
            return True
        except Exception as exc:  # e.g. message deleted: post instead
            log.warning("could not update %s: %s", ts, type(exc).__name__)
            return False

    def _post(self, channel: str, thread_ts: str | None, text: str) -> None:
        try:
            self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        except Exception as exc:
            log.warning("could not post the resume note: %s", type(exc).__name__)
