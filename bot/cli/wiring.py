"""Turn arguments and configuration into the objects the commands run with."""

from __future__ import annotations

import argparse
import os
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


def config_path(args: argparse.Namespace) -> str | None:
    return str(args.config) if getattr(args, "config", None) else os.environ.get("GPUBOT_CONFIG")


def slack_config(args: argparse.Namespace) -> Any:
    """The `slack:` section; a snapshot-mode bot may run with no configuration file at all."""
    from bot.settings import load_config
    from bot.slack.settings import SlackConfig

    path = config_path(args)
    if path is None:
        return SlackConfig()
    return load_config(path, require_clusters=getattr(args, "snapshot", None) is None).slack
