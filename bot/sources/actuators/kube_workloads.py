"""Which inference workload a pre-warm scales, and whether gpubot may scale it at all.

The pre-warm fixes scale a StatefulSet or Deployment through its scale subresource. They never
scale a workload another controller owns: its controller would put its own count back, or
fight the bot every reconcile. For KAITO the owner is a Workspace, and the facts decide:

- The Workspace has no replica field and no scale subresource (CRD `kaito.sh_workspaces.yaml`,
  v0.6.0 and v0.12: `subresources: {status: {}}` only). Its one size field, `resource.count`,
  is "the required number of GPU nodes" (deprecated in v1beta1): KAITO provisions that many
  nodes for the one workspace, and since v0.10 a StatefulSet spreads one model over them. It is
  a capacity and topology setting, not a replica count, so a pre-warm must not write it.
- KAITO's only replica field is an InferenceSet's `spec.replicas` (with a scale subresource),
  one level up: a Workspace it created carries `inferenceset.kaito.sh/created-by`.

So a KAITO-owned workload is refused with the fixes that do work: keep a warm node with
`pool-min-count` (or scale the InferenceSet, when there is one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.model import kube
from bot.model.plans import FixError, FixRefused
from bot.sources.actuators.context import KubeState
from bot.sources.actuators.kube_writes import controller_of

Obj = dict[str, Any]
SCALABLE = {
    "statefulset": ("statefulsets", "StatefulSet"),
    "statefulsets": ("statefulsets", "StatefulSet"),
    "sts": ("statefulsets", "StatefulSet"),
    "deployment": ("deployments", "Deployment"),
    "deployments": ("deployments", "Deployment"),
    "deploy": ("deployments", "Deployment"),
}
WORKSPACE_KINDS = {"workspace", "workspaces", "wk", "wks"}
INFERENCESET_LABEL = "inferenceset.kaito.sh/created-by"


@dataclass(frozen=True)
class Workload:
    namespace: str
    plural: str  # statefulsets | deployments
    kind: str  # StatefulSet | Deployment
    name: str
    replicas: int
    resource_version: str

    @property
    def ref(self) -> str:
        """`statefulset/workspace-llama`, as kubectl and the cold-start check write it."""
        return f"{self.kind.lower()}/{self.name}"

    @property
    def subject(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"

    @property
    def touched(self) -> str:
        return f"apps/v1 {self.kind} {self.namespace}/{self.name}/scale"


def split_workload(workload: str) -> tuple[str, str]:
    kind, _, name = workload.strip().partition("/")
    if not kind or not name or "/" in name:
        raise FixRefused(
            f"workload {workload!r}: expected kind/name, e.g. statefulset/workspace-llama"
        )
    return kind.lower(), name


def resolve_workload(state: KubeState, namespace: str, workload: str) -> Workload:
    """The workload as it is now; refused when missing, not scalable or controller-owned."""
    kind, name = split_workload(workload)
    if kind in WORKSPACE_KINDS:
        raise FixRefused(_kaito_refusal(state, namespace, name, f"workspace {namespace}/{name}"))
    if kind not in SCALABLE:
        raise FixRefused(f"{workload}: only a StatefulSet or a Deployment can be pre-warmed")
    plural, kind_name = SCALABLE[kind]
    obj = state.get(plural, namespace, name)
    subject = f"{kind_name.lower()} {namespace}/{name}"
    if obj is None:
        raise FixRefused(f"{subject} not found")
    owner = controller_of(obj)
    if owner is not None:
        if owner.get("kind") == "Workspace":
            raise FixRefused(_kaito_refusal(state, namespace, str(owner.get("name")), subject))
        raise FixRefused(
            f"{subject} is managed by {owner.get('kind')} {owner.get('name')}: scaling it "
            f"directly would fight that controller; change the {owner.get('kind')}'s desired "
            "replicas instead"
        )
    replicas = (obj.get("spec") or {}).get("replicas")
    return Workload(
        namespace=namespace,
        plural=plural,
        kind=kind_name,
        name=name,
        replicas=1 if replicas is None else int(replicas),  # the API's default
        resource_version=str(kube.meta(obj).get("resourceVersion") or ""),
    )


def _kaito_refusal(state: KubeState, namespace: str, workspace: str, subject: str) -> str:
    line = (
        f"{subject} is run by KAITO Workspace {namespace}/{workspace}, which has no replica "
        "field (resource.count is its GPU node count): scaling the workload would fight "
        "KAITO. Keep a GPU node warm with pool-min-count instead"
    )
    try:
        ws = state.get("workspaces", namespace, workspace)
    except FixError:  # the hint is optional; the refusal stands without it
        ws = None
    owner_set = kube.labels(ws or {}).get(INFERENCESET_LABEL)
    if owner_set:
        line += f", or scale its InferenceSet {namespace}/{owner_set} (spec.replicas)"
    return line
