"""`gpubot collect --out DIR`: a support bundle of a live cluster, diagnosable offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    collect = sub.add_parser(
        "collect",
        help="write a live cluster's evidence as a snapshot directory",
        description="Asks every question the playbooks ask and writes the answers in the DESIGN.md "
        "snapshot layout, so anyone can run `gpubot diagnose --snapshot DIR` offline. Never "
        "writes Secret objects, environment variable values, ConfigMap data that no playbook "
        "reads, or tokens; DIR/COLLECTED.md lists what was left out and why.",
    )
    collect.add_argument("--out", type=Path, required=True, metavar="DIR")
    collect.add_argument(
        "--config", type=Path, metavar="FILE", help="configuration (or GPUBOT_CONFIG)"
    )
    collect.add_argument("--cluster", metavar="NAME", help="which configured cluster")
    from bot.cli.serve import add_log_options

    add_log_options(collect, fmt="text", level="warning")
    collect.set_defaults(handler=cmd_collect)


def cmd_collect(args: argparse.Namespace) -> int:
    from bot.cli.main import Usage
    from bot.cli.wiring import config_path
    from bot.engine.collect import collect
    from bot.engine.loader import load_catalog
    from bot.settings import load_config
    from bot.sources.live import open_live

    path = config_path(args)
    if path is None:
        raise Usage("collect needs --config FILE (or GPUBOT_CONFIG)")
    if args.out.exists() and any(args.out.iterdir()):
        raise Usage(f"{args.out}: not empty; collect writes a fresh snapshot")
    source = open_live(load_config(path).cluster(args.cluster))
    report = collect(source, load_catalog(), args.out)
    print(f"wrote {len(report.written)} files to {args.out}", file=sys.stderr)
    for line in report.omitted:
        print(f"  left out: {line}", file=sys.stderr)
    return 0
