"""Turn arguments and configuration into the objects the commands run with."""

from __future__ import annotations

import argparse
from typing import Any


def diagnoser_for(args: argparse.Namespace) -> Any:
    from bot.cli.main import Usage
    from bot.engine.loader import load_catalog
    from bot.engine.service import Diagnoser
    from bot.sources.snapshot import SnapshotSource

    catalog = load_catalog()
    if getattr(args, "snapshot", None) is not None:
        source = SnapshotSource(args.snapshot)
        return Diagnoser(
            catalog=catalog, sources=lambda _name: source, cluster_names=[source.cluster.name]
        )
    raise Usage(
        "live mode needs a configuration file (--config or GPUBOT_CONFIG); or use --snapshot DIR"
    )


def slack_config(args: argparse.Namespace) -> Any:
    from bot.slack.settings import SlackConfig

    return SlackConfig()
