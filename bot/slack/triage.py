"""Alert triage into the alert's own thread: repeated firings reuse the first thread.

An accepted alert becomes a durable job (bot/slack/jobs.py) holding its routed playbooks and
fingerprint, not the payload. The thread bookkeeping is idempotent per job: a job resumed after
a restart finds the firing it already counted and posts nothing twice.
"""

from __future__ import annotations

import dataclasses
import logging

from slack_sdk import WebClient

from bot import logctx
from bot.engine.service import Diagnoser
from bot.model.playbook import RunbookSpec
from bot.slack import alerts
from bot.slack.jobs import JobKeeper
from bot.store.db import Store
from bot.store.jobs import Job, JobSpec

log = logging.getLogger("gpubot.slack")


class AlertTriage:
    def __init__(
        self,
        *,
        store: Store,
        client: WebClient,
        diagnoser: Diagnoser,
        routes: RunbookSpec,
        jobs: JobKeeper,
    ) -> None:
        self.store, self.client, self.diagnoser = store, client, diagnoser
        self.routes, self.jobs = routes, jobs

    def accept(self, alert: alerts.Alert, channel: str, ts: str | None, *, trigger: str) -> Job:
        """Route the alert and record the job; `ts` is the alert post (None for a webhook)."""
        playbooks = alerts.route(alert, self.routes)
        names = self.diagnoser.cluster_names
        cluster = alert.labels.get("cluster") if alert.labels.get("cluster") in names else None
        if cluster is None and len(names) == 1:
            cluster = names[0]
        name = alert.name or "alert"
        return self.jobs.accept(
            JobSpec(
                trigger=trigger,
                channel=channel,
                thread_ts=ts,
                title=f"Triage for {name} ({len(playbooks)} checks)",
                total=len(playbooks),
                cluster=cluster,
                playbooks=playbooks,
                namespace=alert.namespace,
                workspace=alert.workspace if alert.namespace else None,
                alert_fingerprint=alert.fingerprint,
                alert_name=alert.name[:255],
                alert_status=alert.status,
            )
        )

    def run(self, job: Job, *, resumed: bool = False) -> None:
        with logctx.request("alert", keep=True):  # keep the id of the post or webhook
            try:
                self._run(job, resumed=resumed)
            except Exception as exc:
                self.jobs.fail(job, type(exc).__name__)  # no-op when execute already did
                raise

    def _run(self, job: Job, *, resumed: bool) -> None:
        where = self._thread(job)
        if where is None:  # a resolve: noted in the thread, nothing to diagnose
            self.store.jobs.finish(job.id, self.jobs.owner, "done")
            return
        channel, ts = where
        if not self.store.jobs.set_thread(job.id, self.jobs.owner, channel, ts):
            log.warning("job %s is no longer ours; another replica runs it", job.id)
            return
        self.jobs.execute(dataclasses.replace(job, channel=channel, thread_ts=ts), resumed=resumed)

    def _thread(self, job: Job) -> tuple[str, str] | None:
        """Open the alert's thread, or count one more firing in it; (channel, thread_ts) to
        triage into, None when there is nothing to triage."""
        spec = job.spec
        fingerprint, status = str(spec.alert_fingerprint), spec.alert_status or "firing"
        name = spec.alert_name or "Alert"
        thread = self.store.alert_thread(fingerprint)
        if thread is None and status == "resolved":
            return None
        if thread is None:
            ts = job.thread_ts
            if ts is None:  # a webhook alert: open a thread for it in the alert channel
                head = self.client.chat_postMessage(
                    channel=job.channel,
                    text=f":rotating_light: {name} firing — triage in the thread.",
                )
                ts = str(head["ts"])
            if self.store.open_alert_thread(fingerprint, job.channel, ts, job=job.id):
                return job.channel, ts
            thread = self.store.alert_thread(fingerprint)  # another delivery won the race
            assert thread is not None
        # False: this job counted its firing before a restart; say nothing twice
        counted = self.store.touch_alert_thread(fingerprint, status, job=job.id)
        if counted:
            text = (
                f":white_check_mark: {name} resolved."
                if status == "resolved"
                else f":repeat: {name} fired again ({thread.firings + 1} firings); re-triaging."
            )
            self.client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts, text=text
            )
        return None if status == "resolved" else (thread.channel, thread.thread_ts)
