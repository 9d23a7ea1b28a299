"""Turn arguments and configuration into the objects the commands run with."""

from __future__ import annotations

import argparse
import os
import threading
from importlib import resources
from pathlib import Path
from typing import Any


def demo_snapshot() -> Path:
    return Path(str(resources.files("bot") / "data" / "demo"))


def config_path(args: argparse.Namespace) -> str | None:
    return str(args.config) if getattr(args, "config", None) else os.environ.get("GPUBOT_CONFIG")


def diagnoser_for(args: argparse.Namespace, *, thresholds: Any = None) -> Any:
    """A snapshot (--snapshot, --demo) or the live clusters of the configuration."""
    from bot.cli.main import Usage
    from bot.engine.loader import load_catalog
    from bot.engine.service import Diagnoser
    from bot.sources.snapshot import SnapshotSource

    catalog = load_catalog(
        getattr(args, "playbooks_dir", None), getattr(args, "runbooks_dir", None)
    )
    snapshot = demo_snapshot() if getattr(args, "demo", False) else getattr(args, "snapshot", None)
    if snapshot is not None:
        source = SnapshotSource(snapshot)
        return Diagnoser(
            catalog=catalog,
            sources=lambda _name: source,
            cluster_names=[source.cluster.name],
            **({"thresholds": thresholds} if thresholds is not None else {}),
        )
    path = config_path(args)
    if path is None:
        raise Usage(
            "nothing to diagnose: pass --snapshot DIR, --demo, or --config FILE (or GPUBOT_CONFIG)"
        )
    from bot.settings import load_config
    from bot.sources.live import open_live

    config = load_config(path)
    wanted = getattr(args, "cluster", None)
    if wanted is not None:
        config.cluster(wanted)  # an unknown name is a one-line error now, not mid-run
    opened: dict[str, Any] = {}
    lock = threading.Lock()

    def sources(name: str | None) -> Any:
        cluster = config.cluster(name or wanted)
        with lock:  # concurrent triages of one cluster must share one source (and its fetches)
            if cluster.name not in opened:
                opened[cluster.name] = open_live(cluster)
            return opened[cluster.name]

    return Diagnoser(
        catalog=catalog,
        sources=sources,
        cluster_names=[c.name for c in config.clusters],
        thresholds=thresholds if thresholds is not None else config.thresholds,
    )


def slack_config(args: argparse.Namespace) -> Any:
    """The `slack:` section; a snapshot-mode bot may run with no configuration file at all."""
    from bot.settings import load_config
    from bot.slack.settings import SlackConfig

    path = config_path(args)
    if path is None:
        return SlackConfig()
    return load_config(path, require_clusters=getattr(args, "snapshot", None) is None).slack


def guard_for(
    args: argparse.Namespace, diagnoser: Any, *, store: Any = None, members: Any = None
) -> Any:
    """The fix guard over the same sources as `diagnoser` (a snapshot guard plans only).

    `recover()` is the server's to call, at start-up and on each sweep (bot.slack.fixes tells
    each interrupted request's thread); a terminal command never takes that over."""
    from bot.engine.guard import FixGuard
    from bot.engine.tokens import TokenSigner
    from bot.model.fixpolicy import FixPolicy
    from bot.settings import load_config
    from bot.sources.actuators.context import fix_context
    from bot.store.db import Store

    path = config_path(args)
    live = getattr(args, "snapshot", None) is None and not getattr(args, "demo", False)
    policy = load_config(path, require_clusters=live).fixes if path else FixPolicy()
    return FixGuard(
        store=store or Store.open(),
        policy=policy,
        contexts=lambda cluster: fix_context(diagnoser.sources(cluster)),
        signer=TokenSigner.from_env(),
        diagnoser=diagnoser,
        **({"members": members} if members is not None else {}),
    )
