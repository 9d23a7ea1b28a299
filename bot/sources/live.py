"""A live cluster: Kubernetes questions to the API server, Azure ones to ARM / Log Analytics.

Built from one `clusters:` entry of the configuration. A side that cannot be set up (no
kubeconfig, no Azure credential) answers every one of its questions "unavailable" with the
reason, so the other side's findings still post.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from bot.model.evidence import Answer, Question
from bot.model.text import parse_time
from bot.sources.base import BadInput, ClusterInfo


class LiveSource:
    kind = "live"

    def __init__(
        self,
        cluster: ClusterInfo,
        *,
        kube: Any | None,
        azure: Any | None,
        kube_problem: str | None = None,
        azure_problem: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.kube, self.azure = kube, azure
        self.kube_problem = kube_problem or "Kubernetes is not configured"
        self.azure_problem = azure_problem or "Azure is not configured"

    def now(self) -> datetime:
        """GPUBOT_NOW when set (emulators serving dated snapshots), else the clock."""
        return parse_time(os.environ.get("GPUBOT_NOW")) or datetime.now(UTC)

    def answer(self, question: Question) -> Answer:
        if question.kind.startswith("kubernetes."):
            side, problem = self.kube, self.kube_problem
        else:
            side, problem = self.azure, self.azure_problem
        if side is None:
            return Answer.missing(question, problem)
        return side.answer(question)  # type: ignore[no-any-return]

    def raw(self, question: Question) -> Answer:
        """The body as the service sent it (Log Analytics tables, not rows): what `collect`
        writes, so the snapshot reader sees exactly what the live reader saw."""
        if question.kind.startswith(("azure.", "loganalytics.")) and self.azure is not None:
            return self.azure.fetch_body(question)  # type: ignore[no-any-return]
        return self.answer(question)

    @property
    def generation(self) -> int:
        """How many times `forget()` was called: answers from an earlier one are stale."""
        return int(getattr(self.kube, "generation", 0))

    def forget(self) -> None:
        """Drop short-lived shared lists (before re-checking after a fix)."""
        if self.kube is not None and hasattr(self.kube, "forget"):
            self.kube.forget()


def open_live(cluster: Any) -> LiveSource:
    """From a `ClusterConfig` (bot.settings): kubeconfig context or `aks-user` via ARM."""
    from bot.sources.arm import AzureSource
    from bot.sources.kube import KubeSource

    info: ClusterInfo = cluster.info()
    azure = azure_problem = None
    try:
        azure = AzureSource.from_env(info)
    except BadInput as exc:
        azure_problem = str(exc)
    except Exception as exc:  # credential set-up failed: Kubernetes findings still post
        azure_problem = f"cannot set up Azure clients: {type(exc).__name__}"
    kube = kube_problem = None
    try:
        if cluster.kube_context == "aks-user":
            if azure is None:
                raise BadInput(f"kube_context aks-user needs Azure: {azure_problem}")
            kube = KubeSource.from_kubeconfig(str(azure.user_kubeconfig()), None, cluster=info)
        else:
            kube = KubeSource.from_kubeconfig(None, cluster.kube_context, cluster=info)
    except BadInput as exc:
        kube_problem = str(exc)
    except Exception as exc:  # e.g. ARM refused listClusterUserCredential
        kube_problem = f"cannot reach Kubernetes: {type(exc).__name__}: {exc}"
    return LiveSource(
        info, kube=kube, azure=azure, kube_problem=kube_problem, azure_problem=azure_problem
    )
