"""What triggers (CLI, Slack, alerts, schedules) call: run a runbook for a cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    ) -> Diagnosis:
        ids = playbooks or self.catalog.runbook(runbook).playbooks
        return diagnose(
            self.catalog.select(ids),
            self.sources(cluster),
            runbook=runbook,
            thresholds=self.thresholds,
            scope=scope,
            on_finding=on_finding,
        )
