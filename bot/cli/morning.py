"""`gpubot check morning`: the readiness ladder once (for a CronJob), printed or posted once."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

RUNBOOK = "morning-readiness"


def add_parser(sub: Any) -> None:
    check = sub.add_parser("check", help="scheduled checks (morning readiness)")
    checks = check.add_subparsers(dest="check", metavar="CHECK")
    checks.required = True
    morning = checks.add_parser(
        "morning",
        help="run the morning readiness ladder and print or post the report",
        description="Runs runbooks/morning-readiness.yaml once: GPU advertised, device plugin "
        "healthy, workspaces ready, /v1/models answering, quota headroom, pre-warm, idle GPU "
        "node-hours. With --post the report lands in the channel once per cluster and day, "
        "however many replicas or CronJobs run it (claimed in the store).",
    )
    morning.add_argument("--snapshot", type=Path, metavar="DIR", help="check a snapshot")
    morning.add_argument(
        "--config", type=Path, metavar="FILE", help="configuration (or GPUBOT_CONFIG)"
    )
    morning.add_argument("--cluster", metavar="NAME", help="cluster from the configuration")
    morning.add_argument("--post", metavar="CHANNEL", help="post to this Slack channel id")
    morning.add_argument("--format", choices=("text", "json"), default="text")
    from bot.cli.serve import add_log_options

    add_log_options(morning, fmt="text", level="warning")
    morning.set_defaults(handler=cmd_morning)


def run_morning(diagnoser: Any, cluster: str | None) -> tuple[Any, list[str], dict[str, str]]:
    catalog = diagnoser.catalog
    runbook = catalog.runbook(RUNBOOK)
    diagnosis = diagnoser.run(cluster, runbook=RUNBOOK)
    rungs = {
        p: catalog.playbooks[p].spec.rung or catalog.playbooks[p].spec.title
        for p in runbook.playbooks
    }
    return diagnosis, list(runbook.playbooks), rungs


def claim_key(runbook: Any, cluster: str, now: datetime) -> str:
    """One report per runbook, cluster and local calendar day of the runbook's schedule."""
    tz = ZoneInfo(runbook.schedule.timezone if runbook.schedule else "UTC")
    return f"report:{runbook.id}:{cluster}:{now.astimezone(tz).date().isoformat()}"


def post_once(
    client: Any, store: Any, diagnoser: Any, cluster: str | None, channel: str, now: datetime
) -> bool:
    """Post the morning report unless another replica or CronJob already did today."""
    from bot.render import morning, slack

    diagnosis, order, rungs = run_morning(diagnoser, cluster)
    key = claim_key(diagnoser.catalog.runbook(RUNBOOK), diagnosis.cluster, now)
    if not store.claim(key, owner=f"morning:{channel}"):
        return False
    head = morning.render_slack(diagnosis, order=order, rungs=rungs)
    posted = client.chat_postMessage(channel=channel, text=head["text"], blocks=head["blocks"])
    for message in slack.render_messages(diagnosis)[1:]:
        client.chat_postMessage(
            channel=channel, thread_ts=posted["ts"], text=message["text"], blocks=message["blocks"]
        )
    return True


def cmd_morning(args: argparse.Namespace) -> int:
    from bot.cli.wiring import diagnoser_for

    diagnoser = diagnoser_for(args)
    if args.post:
        from datetime import UTC

        from bot.cli.main import Usage
        from bot.slack.app import web_client
        from bot.slack.settings import SlackEnv
        from bot.store.db import Store

        env = SlackEnv.from_environ()
        if not env.bot_token:
            raise Usage("--post needs SLACK_BOT_TOKEN")
        posted = post_once(
            web_client(env), Store.open(), diagnoser, args.cluster, args.post, datetime.now(UTC)
        )
        print("posted" if posted else "already posted today; not posting again", file=sys.stderr)
        return 0
    diagnosis, order, rungs = run_morning(diagnoser, args.cluster)
    if args.format == "json":
        from bot.render import json_out

        sys.stdout.write(json_out.render(diagnosis))
    else:
        import os

        from bot.render import morning

        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        sys.stdout.write(morning.render(diagnosis, order=order, rungs=rungs, color=color))
    return 0
