"""`gpubot serve`: the Slack bot (Socket Mode or HTTP) plus /healthz, /metrics and /alerts/*."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("gpubot.serve")
# The builtin Socket Mode client checks its connection (and reconnects) every this many seconds.
PING_INTERVAL_S = 10.0


def add_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the Slack bot and the /healthz, /metrics, /alerts/* endpoints",
        description="Socket Mode when SLACK_APP_TOKEN is set (outbound only), HTTP mode with "
        "--http (Slack posts to /slack/events on --port). Needs SLACK_BOT_TOKEN (and "
        "SLACK_SIGNING_SECRET in HTTP mode). Alert webhooks need GPUBOT_WEBHOOK_SECRET.",
    )
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument(
        "--http", action="store_true", help="HTTP mode: Slack sends requests to /slack/events"
    )
    serve.add_argument(
        "--snapshot", type=Path, metavar="DIR", help="answer every request from this snapshot"
    )
    serve.add_argument(
        "--config", type=Path, metavar="FILE", help="configuration file (or GPUBOT_CONFIG)"
    )
    add_log_options(serve, fmt="json", level="info")
    serve.set_defaults(handler=cmd_serve)


def add_log_options(parser: Any, *, fmt: str, level: str) -> None:
    """--log-format/--log-level: JSON lines for `serve` (log collectors), text for the CLI."""
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=fmt,
        help=f"stderr log lines, each with a request_id (default: {fmt})",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=level,
        help=f"least severe level logged (default: {level}; debug adds one line per API call)",
    )


def start_socket_mode(
    bot: Any, web: Any, app_token: str, *, ping_interval: float = PING_INTERVAL_S
) -> Any:
    """Connect Socket Mode in the background; /healthz answers 503 while it is not connected
    (the SDK reconnects by itself: a dropped connection comes back within ping_interval)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(bot.app, app_token, ping_interval=ping_interval)
    web.healthy = lambda: socket_mode_health(handler.client)
    threading.Thread(target=_connect, args=(handler,), daemon=True, name="socket-mode").start()
    return handler


def _connect(handler: Any) -> None:
    try:
        handler.connect()
    except Exception as exc:  # e.g. apps.connections.open refused: /healthz says so
        log.error("Socket Mode could not connect: %s", type(exc).__name__)


def socket_mode_health(client: Any) -> tuple[bool, str]:
    if client.is_connected():
        return True, "socket mode connected"
    return False, "socket mode disconnected"


def build(args: argparse.Namespace, env: Any) -> tuple[Any, Any]:
    """The bot and its WSGI app, without starting anything (tests use this too)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.cli.wiring import diagnoser_for, guard_for, slack_config
    from bot.slack.app import GpuBot, web_client
    from bot.slack.members import SlackGroupMembers
    from bot.slack.web import WebApp
    from bot.store.db import Store

    diagnoser = diagnoser_for(args)
    store, client = Store.open(), web_client(env)
    # The guard checks user-group membership at click time through the bot's own client.
    members = SlackGroupMembers(client)
    guard = guard_for(args, diagnoser, store=store, members=members)
    members.ttl_seconds = guard.policy.group_cache_seconds
    bot = GpuBot(
        diagnoser=diagnoser,
        store=store,
        config=slack_config(args),
        env=env,
        client=client,
        socket_mode=not args.http,
        guard=guard,
    )
    web = WebApp(
        triage=bot.triage_webhook,
        webhook_secret=env.webhook_secret,
        slack_handler=SlackRequestHandler(bot.app) if args.http else None,
    )
    return bot, web


def cmd_serve(args: argparse.Namespace) -> int:
    import waitress

    from bot.cli.main import Usage
    from bot.slack.settings import SlackEnv

    env = SlackEnv.from_environ()
    if not env.bot_token:
        raise Usage("SLACK_BOT_TOKEN is not set")
    if args.http and not env.signing_secret:
        raise Usage("HTTP mode needs SLACK_SIGNING_SECRET")
    if not args.http and not env.app_token:
        raise Usage("Socket Mode needs SLACK_APP_TOKEN (or use --http)")
    bot, web = build(args, env)
    if bot.fixes is not None:
        # A fix a dead process left mid-apply is never re-applied: say so in its thread, now
        # and on every sweep (the process may have died after this one started).
        interrupted = bot.fixes.recover()
        log.info("fix guard ready; %d interrupted fix(es) flagged", len(interrupted))
        bot.fixes.start_sweep()
    # Renew this process's diagnoses and re-run those a dead process left (at start-up, then
    # every job_heartbeat_seconds).
    bot.jobs.start()
    # Diagnoses are pure Python; Slack wants the ack within 3 s. With the default 5 ms switch
    # interval an ack waits up to 5 ms per runnable thread at every lock hand-off, ~0.4 s at
    # p99 while five triages run (bench/README.md); 1 ms gives it the lock five times sooner.
    sys.setswitchinterval(0.001)
    if not args.http:
        start_socket_mode(bot, web, str(env.app_token))
    log.info(
        "gpubot serving on %s:%d (%s mode)", args.host, args.port, "HTTP" if args.http else "Socket"
    )
    waitress.serve(web, host=args.host, port=args.port, threads=8, ident="gpubot")
    return 0


def _schedule_morning(args: argparse.Namespace, bot: Any) -> None:
    """Post the morning report on the runbook's schedule; every replica may schedule it, the
    store's claim lets one of them (or the CronJob) post per cluster and day."""
    from bot.cli.morning import RUNBOOK, post_once
    from bot.slack.schedule import Scheduler

    channel = bot.config.morning_channel
    runbook = bot.diagnoser.catalog.runbook(RUNBOOK)
    if not channel or runbook.schedule is None:
        return
    for cluster in bot.diagnoser.cluster_names:
        Scheduler(
            runbook.schedule,
            lambda when, c=cluster: post_once(
                bot.client, bot.store, bot.diagnoser, c, channel, when
            ),
            name=f"morning-{cluster}",
        ).start()
