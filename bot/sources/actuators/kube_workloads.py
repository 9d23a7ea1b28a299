"""Which inference workload a pre-warm scales, and whether gpubot may scale it at all.

The pre-warm fixes scale a StatefulSet, a Deployment or a KAITO InferenceSet through its scale
subresource. They never scale a workload another controller owns: its controller would put its
own count back, or fight the bot every reconcile. For KAITO the owner is a Workspace, and the
facts decide:

- The Workspace has no replica field and no scale subresource (CRD `kaito.sh_workspaces.yaml`,
  v0.6.0 and v0.12: `subresources: {status: {}}` only). Its one size field, `resource.count`,
  is "the required number of GPU nodes" (deprecated in v1beta1): KAITO provisions that many
  nodes for the one workspace, and since v0.10 a StatefulSet spreads one model over them. It is
  a capacity and topology setting, not a replica count, so a pre-warm must not write it.
- KAITO's replica field is an InferenceSet's `spec.replicas` ("the desired number of workspaces
  to be created", minimum 0), served through a scale subresource, one level up: each Workspace
  the set creates is named `<set>-<index>` and labelled `inferenceset.kaito.sh/created-by`.

So a workload whose Workspace belongs to an InferenceSet is pre-warmed by scaling the
InferenceSet (what KAITO means to be scaled); one whose Workspace stands alone is refused with
the fixes that do work: keep a warm node with `pool-min-count`, or move it to an InferenceSet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.model import kube
from bot.model.plans import FixRefused
from bot.sources.actuators.context import KubeState
from bot.sources.actuators.kube_writes import controller_of

Obj = dict[str, Any]
INFERENCESET = ("inferencesets", "InferenceSet")
SCALABLE = {
    "statefulset": ("statefulsets", "StatefulSet"),
    "statefulsets": ("statefulsets", "StatefulSet"),
    "sts": ("statefulsets", "StatefulSet"),
    "deployment": ("deployments", "Deployment"),
    "deployments": ("deployments", "Deployment"),
    "deploy": ("deployments", "Deployment"),
    # kubectl's names for the CRD (plural, singular, short names is/isets).
    "inferenceset": INFERENCESET,
    "inferencesets": INFERENCESET,
    "is": INFERENCESET,
    "isets": INFERENCESET,
}
WORKSPACE_KINDS = {"workspace", "workspaces", "wk", "wks"}
DEFAULT_API = {
    "StatefulSet": "apps/v1",
    "Deployment": "apps/v1",
    "InferenceSet": "kaito.sh/v1beta1",
}
# KAITO creates a KEDA ScaledObject for an InferenceSet carrying this annotation (its examples).
KEDA_ANNOTATION = "scaledobject.kaito.sh/auto-provision"


@dataclass(frozen=True)
class Workload:
    namespace: str
    plural: str  # statefulsets | deployments | inferencesets
    kind: str  # StatefulSet | Deployment | InferenceSet
    name: str
    replicas: int
    resource_version: str
    api_version: str = "apps/v1"  # as the object was read: kaito.sh/v1beta1 for a set
    notes: tuple[str, ...] = ()  # how a KAITO workload led here, who else sets the count

    @property
    def ref(self) -> str:
        """`statefulset/workspace-llama`, as kubectl and the cold-start check write it."""
        return f"{self.kind.lower()}/{self.name}"

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def subject(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"

    @property
    def kubectl_resource(self) -> str:
        """How kubectl names the kind: `statefulset`, or `inferencesets.kaito.sh` (qualified,
        so no other group's kind of that name is picked)."""
        return (
            f"{self.plural}.{self.group}" if self.plural == INFERENCESET[0] else self.kind.lower()
        )

    @property
    def touched(self) -> str:
        return f"{self.api_version} {self.kind} {self.namespace}/{self.name}/scale"


def split_workload(workload: str) -> tuple[str, str]:
    kind, _, name = workload.strip().partition("/")
    if not kind or not name or "/" in name:
        raise FixRefused(
            f"workload {workload!r}: expected kind/name, e.g. statefulset/workspace-llama"
        )
    return kind.lower(), name


def resolve_workload(state: KubeState, namespace: str, workload: str) -> Workload:
    """What a pre-warm of `workload` scales, as it is now: the workload itself, or the
    InferenceSet of the KAITO Workspace that runs it; refused when missing, not scalable or
    owned by a controller with no replica count gpubot may change."""
    kind, name = split_workload(workload)
    if kind in WORKSPACE_KINDS:
        return _via_workspace(state, namespace, name, f"workspace {namespace}/{name}")
    if kind not in SCALABLE:
        raise FixRefused(
            f"{workload}: only a StatefulSet, a Deployment or a KAITO InferenceSet can be "
            "pre-warmed"
        )
    plural, kind_name = SCALABLE[kind]
    obj = state.get(plural, namespace, name)
    subject = f"{kind_name.lower()} {namespace}/{name}"
    if obj is None:
        raise FixRefused(f"{subject} not found")
    owner = controller_of(obj)
    if owner is not None and owner.get("kind") == "Workspace":
        return _via_workspace(state, namespace, str(owner.get("name")), subject)
    if owner is not None:
        raise FixRefused(
            f"{subject} is managed by {owner.get('kind')} {owner.get('name')}: scaling it "
            f"directly would fight that controller; change the {owner.get('kind')}'s desired "
            "replicas instead"
        )
    return _workload(obj, namespace, plural, kind_name)


def _workload(obj: Obj, namespace: str, plural: str, kind: str) -> Workload:
    replicas = (obj.get("spec") or {}).get("replicas")
    notes: tuple[str, ...] = ()
    if kube.annotations(obj).get(KEDA_ANNOTATION) == "true":
        notes = (
            f"{kind} {namespace}/{kube.name(obj)} asks KAITO for a KEDA autoscaler "
            f"({KEDA_ANNOTATION}): it may set the replica count again",
        )
    return Workload(
        namespace=namespace,
        plural=plural,
        kind=kind,
        name=kube.name(obj),
        replicas=1 if replicas is None else int(replicas),  # both CRDs' and the API's default
        resource_version=str(kube.meta(obj).get("resourceVersion") or ""),
        api_version=str(obj.get("apiVersion") or DEFAULT_API[kind]),
        notes=notes,
    )


def _via_workspace(state: KubeState, namespace: str, workspace: str, subject: str) -> Workload:
    """The InferenceSet behind a KAITO Workspace; refused for a Workspace that has none."""
    ws = state.get("workspaces", namespace, workspace)
    if ws is None and subject.startswith("workspace "):
        raise FixRefused(f"{subject} not found")
    owner_set = kube.inferenceset_of(ws) if ws is not None else None
    if owner_set is None:
        raise FixRefused(_kaito_refusal(namespace, workspace, subject))
    run_by = f"{subject} is run by KAITO Workspace {namespace}/{workspace} of InferenceSet "
    found = state.get(INFERENCESET[0], namespace, owner_set)
    if found is None:
        raise FixRefused(f"{run_by}{namespace}/{owner_set}, which was not found")
    owner = controller_of(found)
    if owner is not None:
        raise FixRefused(
            f"{run_by}{namespace}/{owner_set}, which {owner.get('kind')} {owner.get('name')} "
            "manages: change its desired replicas instead"
        )
    w = _workload(found, namespace, *INFERENCESET)
    why = (
        f"{run_by}{namespace}/{owner_set}: the pre-warm scales the InferenceSet's replicas "
        "(each replica is one Workspace on its own GPU nodes), never the workload KAITO "
        "reconciles"
    )
    return replace(w, notes=(why, *w.notes))


def _kaito_refusal(namespace: str, workspace: str, subject: str) -> str:
    run_by = (
        ""
        if subject.startswith("workspace ")
        else (f" is run by KAITO Workspace {namespace}/{workspace}, which")
    )
    return (
        f"{subject}{run_by} has no replica field (resource.count is its GPU node count) and "
        "belongs to no InferenceSet: scaling its workload would fight KAITO. Keep a GPU node "
        "warm with pool-min-count instead, or run it from an InferenceSet, whose replicas a "
        "pre-warm can scale"
    )
