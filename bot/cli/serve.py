"""`gpubot serve`: the Slack bot (Socket Mode or HTTP) plus /healthz, /metrics and /alerts/*."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("gpubot.serve")


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
    serve.set_defaults(handler=cmd_serve)


def build(args: argparse.Namespace, env: Any) -> tuple[Any, Any]:
    """The bot and its WSGI app, without starting anything (tests use this too)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.cli.wiring import diagnoser_for, slack_config
    from bot.slack.app import GpuBot
    from bot.slack.web import WebApp
    from bot.store.db import Store

    diagnoser = diagnoser_for(args)
    bot = GpuBot(
        diagnoser=diagnoser,
        store=Store.open(),
        config=slack_config(args),
        env=env,
        socket_mode=not args.http,
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
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    bot, web = build(args, env)
    # Diagnoses are pure Python; Slack wants the ack within 3 s. With the default 5 ms switch
    # interval an ack waits up to 5 ms per runnable thread at every lock hand-off, ~0.4 s at
    # p99 while five triages run (bench/README.md); 1 ms gives it the lock five times sooner.
    sys.setswitchinterval(0.001)
    if not args.http:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(bot.app, env.app_token)
        web.healthy = lambda: (handler.client.is_connected(), "socket mode")
        threading.Thread(target=handler.connect, daemon=True, name="socket-mode").start()
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
