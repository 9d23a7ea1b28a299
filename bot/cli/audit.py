"""`gpubot audit`: every fix attempt the store recorded: who, when, where, what, and why."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

_AGO = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since(text: str) -> datetime:
    """`24h`, `90m`, `7d`, `30s` ago, or an RFC 3339 time."""
    from bot.model.text import parse_time

    match = _AGO.fullmatch(text.strip().lower())
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    when = parse_time(text)
    if when is None:
        raise argparse.ArgumentTypeError(
            f"expected e.g. 24h, 90m, 7d or an RFC 3339 time, got {text!r}"
        )
    return when


def add_parser(sub: Any) -> None:
    audit = sub.add_parser(
        "audit",
        help="list the fix audit trail (who, when, where, fix, target, action, reason)",
        description="Reads the store (GPUBOT_DATABASE_URL, else the local SQLite file): every "
        "plan, refusal with its reason, request, approval, apply, failure, verification and "
        "undo, oldest first.",
    )
    audit.add_argument("--request", metavar="ID", help="one request's trail")
    audit.add_argument("--cluster", metavar="NAME")
    audit.add_argument("--action", metavar="A", help="e.g. refused, applied, conflict, verified")
    audit.add_argument(
        "--since", type=since, metavar="WHEN", help="e.g. 24h, 7d, 2026-12-01T00:00Z"
    )
    audit.add_argument("--limit", type=int, default=200, help="newest N records (default 200)")
    audit.add_argument("--json", action="store_true", help="print a JSON list")
    audit.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    from bot.cli.fix_output import audit_json, audit_text
    from bot.cli.main import Usage
    from bot.store.db import Store

    if args.limit < 1:
        raise Usage("--limit must be at least 1")
    records = Store.open().ledger.audit_trail(
        request_id=args.request,
        cluster=args.cluster,
        action=args.action,
        since=args.since,
        limit=args.limit,
    )
    sys.stdout.write(audit_json(records) if args.json else audit_text(records))
    return 0
