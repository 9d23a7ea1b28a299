"""Parse `/gpu` text into a command, or a usage error a person can act on."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
K8S_TARGET = re.compile(rf"^({NAME})(/({NAME}))?$")
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")  # AKS managed cluster names

USAGE = """*Usage*
• `/gpu diagnose [cluster] [namespace/workspace]` — differential diagnosis of every GPU symptom row
• `/gpu morning [cluster]` — the morning readiness ladder now
• `/gpu help` — this message"""


class UsageError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    action: str  # diagnose | morning | help
    cluster: str | None = None
    namespace: str | None = None
    workspace: str | None = None


def parse(text: str, clusters: list[str]) -> Command:
    """`clusters` are the configured names (in snapshot mode, the snapshot's); a bare word is a
    cluster, `namespace/workspace` (or `namespace/`) a target. One cluster is the default."""
    words = (text or "").split()
    if not words or words[0].lower() in ("help", "-h", "--help"):
        return Command("help")
    action, rest = words[0].lower(), words[1:]
    if action not in ("diagnose", "morning"):
        raise UsageError(f"unknown subcommand `{_clip(action)}`")
    cluster = namespace = workspace = None
    for word in rest:
        if "/" in word and action == "diagnose" and namespace is None:
            match = K8S_TARGET.match(word.rstrip("/"))
            if not match or len(word) > 253 or word.count("/") > 1:
                raise UsageError(f"`{_clip(word)}` is not a Kubernetes namespace/workspace name")
            namespace, workspace = match.group(1), match.group(4)
        elif cluster is None and word in clusters:
            cluster = word
        elif cluster is None and "/" not in word:
            raise UsageError(f"unknown cluster `{_clip(word)}` (configured: {', '.join(clusters)})")
        else:
            raise UsageError(f"unexpected argument `{_clip(word)}`")
    if cluster is None and len(clusters) > 1:
        raise UsageError(f"which cluster? configured: {', '.join(clusters)}")
    return Command(action, cluster or (clusters[0] if clusters else None), namespace, workspace)


def _clip(word: str, limit: int = 40) -> str:
    cleaned = re.sub(r"[`<>&*_~]", "", word)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def delivery_key(command: Mapping[str, Any], headers: Mapping[str, Sequence[str]]) -> str | None:
    """What makes one `/gpu` invocation unique, for the store's exactly-once dedupe.

    Slack's signature check accepts a captured request again for five minutes (its allowed
    clock skew), so a replayed command must be recognised by content. Slack gives every
    invocation its own trigger_id; a replay carries the same one. Without it (never seen from
    Slack) the signature stands in: it covers body and timestamp, so only a replay repeats it.
    """
    team = str(command.get("team_id") or "")
    trigger = str(command.get("trigger_id") or "")
    if trigger:
        return f"slash:{team}:{trigger}"
    signature = next(iter(headers.get("x-slack-signature") or ()), "")
    return f"slash-sig:{signature}" if signature else None
