"""Evidence questions and answers.

A *question* is a source kind plus parameters (hashable, so one run asks it once). An
*answer* is either data, or "unavailable" with the reason: a missing snapshot file, a 403,
a timeout. Checks receive answers and must never treat an unavailable one as "none".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KubeListParams(_Params):
    resource: str = Field(description="plural resource name, e.g. pods, nodes, workspaces")
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    subset: Literal["gpu"] | None = Field(
        default=None,
        description=(
            "pods only: `gpu` leaves out plainly healthy CPU pods on plain CPU nodes, which no "
            "GPU check reads (bot/sources/podsubset.py); a 150,000-pod list then fits in memory"
        ),
    )

    @model_validator(mode="after")
    def _subset_of_pods(self) -> KubeListParams:
        if self.subset is not None and self.resource != "pods":
            raise ValueError(f"subset applies to pods only, not {self.resource}")
        return self


class PodsOnGpuNodesParams(_Params):
    pass


class PodLogsParams(_Params):
    namespace: str | None = None
    label_selector: str | None = Field(
        default=None, description="pods whose logs to read; default: GPU-requesting pods"
    )


class PodMetricsParams(_Params):
    namespace: str | None = None
    label_selector: str | None = None


class ServiceProbeParams(_Params):
    path: str = "/v1/models"


class AzureParams(_Params):
    pass


def known_queries() -> dict[str, str]:
    """Query id -> KQL text, from the package's `queries/*.kql` (each starts `// gpubot:<id>`)."""
    folder = resources.files("bot") / "queries"
    return {
        entry.name.removesuffix(".kql"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".kql")
    }


class LogQueryParams(_Params):
    query: str = Field(description="query id; the KQL text lives in bot/queries/<id>.kql")

    @field_validator("query")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in known_queries():
            raise ValueError(f"unknown query id {value!r} (known: {', '.join(known_queries())})")
        return value


# question kind -> (params model, what the answer data looks like)
QUESTION_KINDS: dict[str, tuple[type[_Params], str]] = {
    "kubernetes.list": (
        KubeListParams,
        "list of objects as the API returns them (`subset: gpu`: only pods that can bear on a GPU "
        "diagnosis)",
    ),
    "kubernetes.pods_on_gpu_nodes": (PodsOnGpuNodesParams, "list of pods bound to GPU nodes"),
    "kubernetes.pod_logs": (PodLogsParams, "list of {namespace,pod,container,previous,text}"),
    "kubernetes.pod_metrics": (PodMetricsParams, "list of {namespace,pod,samples:[...]}"),
    "kubernetes.service_probes": (ServiceProbeParams, "list of {namespace,service,path,...}"),
    "azure.usages": (AzureParams, "ARM Usage - List body"),
    "azure.skus": (AzureParams, "ARM Resource Skus - List body"),
    "azure.managed_cluster": (AzureParams, "ARM Managed Clusters - Get body"),
    "azure.agent_pools": (AzureParams, "ARM Agent Pools - List body"),
    "azure.registries": (AzureParams, "ARM Registries - List body"),
    "loganalytics.query": (LogQueryParams, "list of row dicts of the primary table"),
}


@dataclass(frozen=True)
class Question:
    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, params: dict[str, Any] | None = None) -> Question:
        model, _ = QUESTION_KINDS[kind]
        validated = model.model_validate(params or {})
        clean = {k: v for k, v in validated.model_dump().items() if v is not None}
        return cls(kind=kind, params=tuple(sorted(clean.items())))

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def label(self) -> str:
        """Where the answer comes from, as DESIGN.md names sources (e.g. `azure/usages`)."""
        family, _, what = self.kind.partition(".")
        if self.kind == "kubernetes.list":
            return f"kubernetes/{self.param('resource')}"
        if self.kind == "loganalytics.query":
            return f"loganalytics/{self.param('query')}"
        return f"{family}/{what.replace('_', '-')}"


@dataclass(frozen=True)
class Answer:
    question: Question
    data: Any = None
    unavailable: str | None = None
    extra_sources: tuple[str, ...] = field(default=())

    @property
    def available(self) -> bool:
        return self.unavailable is None

    @property
    def source(self) -> str:
        return self.question.label()

    @classmethod
    def missing(cls, question: Question, reason: str) -> Answer:
        return cls(question=question, unavailable=reason)
