"""The Bolt app: `/gpu`, alert posts in incident channels, acknowledge/snooze buttons, and
guarded fix buttons (bot/slack/fixes.py)."""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot import logctx, metrics
from bot.engine.guard import FixGuard
from bot.engine.service import Diagnoser
from bot.model.playbook import RunbookSpec
from bot.slack import alerts, clicks, commands, fixes
from bot.slack.decorate import Decorator
from bot.slack.jobs import JobKeeper
from bot.slack.metered import AttemptMeter, MeteredWebClient
from bot.slack.pool import JobPool
from bot.slack.settings import SlackConfig, SlackEnv
from bot.slack.triage import AlertTriage
from bot.store.db import Store
from bot.store.jobs import Job, JobSpec

log = logging.getLogger("gpubot.slack")
BUSY = ":no_entry: Every diagnosis slot is busy ({active} running). Try again in a minute."


def web_client(env: SlackEnv) -> WebClient:
    client = MeteredWebClient(token=env.bot_token, base_url=env.api_url, timeout=15)
    client.retry_handlers = [
        AttemptMeter(),  # first: it must see every attempt (it never retries)
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
    ]
    return client


class GpuBot:
    def __init__(
        self,
        *,
        diagnoser: Diagnoser,
        store: Store,
        config: SlackConfig,
        env: SlackEnv,
        client: WebClient | None = None,
        socket_mode: bool = False,
        guard: FixGuard | None = None,
    ) -> None:
        self.diagnoser, self.store, self.config, self.env = diagnoser, store, config, env
        self.client = client or web_client(env)
        self.pool = JobPool(config.workers, config.queue)
        metrics.QUEUE.set_function(lambda: self.pool.active)
        self.routes: RunbookSpec = diagnoser.catalog.runbook("alert-routes")
        self.guard = guard
        self.decorator = Decorator(
            store=store, config=config, offer=guard.offer if guard is not None else None
        )
        # every accepted diagnosis is a job a restarted (or another) replica can redo
        self.jobs = JobKeeper(
            store=store,
            client=self.client,
            config=config,
            diagnoser=diagnoser,
            decorator=self.decorator,
            pool=self.pool,
        )
        self.triage = AlertTriage(
            store=store, client=self.client, diagnoser=diagnoser, routes=self.routes, jobs=self.jobs
        )
        self.jobs.resume_alert = functools.partial(self.triage.run, resumed=True)
        self.app = App(
            client=self.client,
            signing_secret=env.signing_secret or "",
            request_verification_enabled=not socket_mode,
            token_verification_enabled=True,
            ignoring_self_events_enabled=True,
        )
        self.bot_user_id: str | None = None
        self.app.command("/gpu")(self.on_command)
        self.app.event("message")(self.on_message)
        self.app.action(re.compile(r"^(ack|snooze):.+"))(self.on_ack)
        self.fixes = fixes.FixFlow(guard=guard, client=self.client) if guard else None
        if self.fixes is not None:
            self.fixes.register(self.app)
        else:
            self.app.action(fixes.FIX_BUTTON)(clicks.fixes_disabled)

    def shutdown(self) -> None:
        self.jobs.stop()
        self.pool.shutdown(wait=True)
        if self.fixes is not None:
            self.fixes.shutdown()

    # ---- /gpu ----------------------------------------------------------------------------

    def on_command(
        self, ack: Ack, command: dict[str, Any], respond: Respond, request: BoltRequest
    ) -> None:
        # The id set here follows the job into the pool, its evidence calls and its posts.
        with logctx.request("slash"):
            log.info(
                "/gpu %s in %s by %s",
                command.get("text", ""),
                command.get("channel_id", ""),
                command.get("user_id", ""),
            )
            self._command(ack, command, respond, request)

    def _command(
        self, ack: Ack, command: dict[str, Any], respond: Respond, request: BoltRequest
    ) -> None:
        channel = command.get("channel_id", "")
        if self.config.channels and channel not in self.config.channels:
            ack(":lock: `/gpu` is not enabled in this channel. Ask the gpubot owners to add it.")
            return
        try:
            cmd = commands.parse(command.get("text", ""), self.diagnoser.cluster_names)
        except commands.UsageError as exc:
            ack(f":warning: {exc}\n{commands.USAGE}")
            return
        if cmd.action == "help":
            ack(commands.USAGE)
            return
        key = commands.delivery_key(command, request.headers)
        if key is not None and not self.store.first_time(key):
            log.info("a replayed /gpu request was ignored")
            ack()  # the original already runs; answer the copy, start nothing
            return
        runbook = "morning-readiness" if cmd.action == "morning" else "triage"
        total = self.diagnoser.playbook_count(runbook)
        what = "Morning readiness" if cmd.action == "morning" else "Diagnosing"
        target = f" {cmd.namespace}/{cmd.workspace or ''}".rstrip("/") if cmd.namespace else ""
        title = f"{what} {cmd.cluster or ''}{target} ({total} checks)".replace("  ", " ")
        job = self.jobs.accept(
            JobSpec(
                trigger="slash",
                channel=channel,
                title=title,
                total=total,
                cluster=cmd.cluster,
                runbook=runbook,
                namespace=cmd.namespace,
                workspace=cmd.workspace,
                requester=str(command.get("user_id", ""))[:64] or None,
            )
        )
        if self.pool.submit(self._run_command, job, respond) is None:
            self.jobs.fail(job, "busy")
            ack(BUSY.format(active=self.pool.active))
            return
        ack(f"{title}…")

    def _run_command(self, job: Job, respond: Respond) -> None:
        try:
            self.jobs.execute(job)
        except Exception as exc:
            log.exception("diagnosis for /gpu failed")
            respond(
                text=f":x: The diagnosis could not be posted here ({type(exc).__name__}). "
                "Invite the bot to this channel, or check its logs.",
                response_type="ephemeral",
            )

    # ---- alerts in incident channels -----------------------------------------------------

    def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        channel, ts = event.get("channel", ""), event.get("ts", "")
        if event.get("subtype") in (
            "message_changed",
            "message_deleted",
            "channel_join",
            "bot_add",
        ):
            return
        if event.get("thread_ts") and event.get("thread_ts") != ts:
            return  # replies in threads, ours included, are conversation, not alerts
        if self.config.incident_channels and channel not in self.config.incident_channels:
            return
        alert = alerts.from_slack_message(event)
        if alert is None or not alerts.is_probably_alert(alert, self.routes):
            return
        if not self.store.first_time(f"event:{body.get('event_id') or ''}:{channel}:{ts}"):
            return
        if not self.store.first_time(f"msg:{channel}:{ts}"):
            return
        with logctx.request("alert"):
            log.info("alert %s (%s) posted in %s", alert.name, alert.status, channel)
            job = self.triage.accept(alert, channel, ts, trigger="alert")
            if self.pool.submit(self.triage.run, job) is None:
                self.jobs.fail(job, "busy")
                self.client.chat_postMessage(
                    channel=channel, thread_ts=ts, text=BUSY.format(active=self.pool.active)
                )

    def triage_webhook(self, alert: alerts.Alert) -> bool:
        """An alert POSTed to /alerts/*: triaged into the configured alert channel."""
        with logctx.request("webhook"):
            log.info("webhook alert %s (%s) from %s", alert.name, alert.status, alert.source)
            return self._webhook(alert)

    def _webhook(self, alert: alerts.Alert) -> bool:
        channel = self.config.alert_channel
        if not channel:
            log.warning("alert %s received but slack.alert_channel is not configured", alert.name)
            return False
        key = f"webhook:{alert.fingerprint}:{alert.status}:{datetime.now(UTC):%Y%m%d%H%M}"
        if not self.store.first_time(key):
            return False  # the same notification delivered twice within the minute
        job = self.triage.accept(alert, channel, None, trigger="webhook")
        if self.pool.submit(self.triage.run, job) is None:
            self.jobs.fail(job, "busy")
            metrics.BUSY.inc()
            return False
        return True

    # ---- acknowledge / snooze ------------------------------------------------------------

    def on_ack(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        kind, _, playbook = str(action.get("action_id", "")).partition(":")
        cluster = str(action.get("value") or "")[:255]
        user = str((body.get("user") or {}).get("id", ""))
        if (
            playbook not in self.diagnoser.catalog.playbooks
            or cluster not in self.diagnoser.cluster_names
        ):
            respond(
                text=":warning: That button no longer matches a finding.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        until = (
            datetime.now(UTC) + timedelta(hours=self.config.snooze_hours)
            if kind == "snooze"
            else None
        )
        self.store.acknowledge(
            cluster=cluster, playbook=playbook, kind=kind, user_id=user, until=until
        )
        what = f"snoozed for {self.config.snooze_hours:g} h" if kind == "snooze" else "acknowledged"
        respond(
            text=f"<@{user}> {what} *{playbook}* on {cluster}: "
            "the next triage says so instead of paging.",
            response_type="in_channel",
            replace_original=False,
        )
