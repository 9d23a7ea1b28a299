"""What triggers (CLI, Slack, alerts, schedules) call: run a runbook for a cluster."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.engine.evidence import EvidenceCache, SharedEvidence
from bot.engine.loader import Catalog
from bot.engine.runner import diagnose
from bot.model.context import Scope
from bot.model.thresholds import Thresholds
from bot.model.verdicts import Diagnosis, Finding
from bot.sources.base import Source

SourceFactory = Callable[[str | None], Source]


@dataclass
class Diagnoser:
    catalog: Catalog
    sources: SourceFactory
    cluster_names: list[str]
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Concurrent runs against one source share each fetch while it runs and this long after
    # (SharedEvidence); 0 shares only fetches still in flight.
    share_seconds: float = 10.0
    _shared: weakref.WeakKeyDictionary[Source, SharedEvidence] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def playbook_count(self, runbook: str = "triage", playbooks: list[str] | None = None) -> int:
        return len(playbooks or self.catalog.runbook(runbook).playbooks)

    def run(
        self,
        cluster: str | None,
        *,
        runbook: str = "triage",
        playbooks: list[str] | None = None,
        scope: Scope | None = None,
        on_finding: Callable[[Finding], None] | None = None,
        fresh: bool = False,
    ) -> Diagnosis:
        """`fresh`: read the cluster anew rather than share another run's answers (the
        re-check after a fix must see the fix)."""
        ids = playbooks or self.catalog.runbook(runbook).playbooks
        source = self.sources(cluster)
        if fresh:
            self.forget(cluster)
        return diagnose(
            self.catalog.select(ids),
            source,
            runbook=runbook,
            thresholds=self.thresholds,
            scope=scope,
            on_finding=on_finding,
            cache=EvidenceCache(source, shared=self.shared(source)),
        )

    def shared(self, source: Source) -> SharedEvidence:
        with self._lock:
            held = self._shared.get(source)
            if held is None:
                held = SharedEvidence(source, fresh_seconds=self.share_seconds)
                self._shared[source] = held
            return held

    def forget(self, cluster: str | None) -> None:
        """Drop every answer and shared list held for this cluster's source."""
        source = self.sources(cluster)
        self.shared(source).forget()
        forget = getattr(source, "forget", None)
        if callable(forget):
            forget()
