"""Pod fixes: restart the device plugin on one node, evict the pod that pins an idle GPU node.

Both act on one pod named by the diagnosis and write once, conditioned on the uid the plan
read: if the pod was replaced since (a new pod of the same name has another uid), the API
server answers 409 and nothing is deleted. Neither can be undone: a deleted pod is gone, and
what replaces it is its controller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from kubernetes import client

from bot.model import kube
from bot.model.plans import ApplyResult, Change, FixPlan, FixRefused
from bot.sources.actuators import actuator
from bot.sources.actuators.context import FixContext, KubeState
from bot.sources.actuators.kube_writes import (
    Writer,
    controller_of,
    kube_state,
    target_key,
    typed_params,
)

Obj = dict[str, Any]
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


def _pod_on_node(state: KubeState, namespace: str, name: str, node: str) -> Obj:
    pod = state.get("pods", namespace, name)
    if pod is None:
        raise FixRefused(f"pod {namespace}/{name} not found (already replaced or gone)")
    where = kube.node_name(pod)
    if where != node:
        raise FixRefused(f"pod {namespace}/{name} runs on {where or 'no node'}, not on {node}")
    return pod


def _uid(pod: Obj) -> str:
    uid = kube.meta(pod).get("uid")
    if not uid:
        raise FixRefused(f"pod {kube.ref(pod)} has no uid to condition the write on")
    return str(uid)


def _not_reversible(plan: FixPlan) -> FixPlan:
    raise FixRefused(f"{plan.fix} cannot be undone: the pod it removed is gone")


@dataclass(frozen=True)
class PodTarget:
    """The pod a fix removes, as its plan read it: still on the node, its controller accepted
    by the fix, and the uid the write will be conditioned on."""

    params: Any
    state: KubeState
    pod: Obj
    owner: Obj | None
    subject: str  # "pod ns/name"
    uid: str


# (state, pod, its controller) -> why the fix refuses to remove this pod, or None
OwnerCheck = Callable[[KubeState, Obj, Obj | None], str | None]


def read_target(fix: str, ctx: FixContext, params: Any, refuse: OwnerCheck) -> PodTarget:
    """What both plans share: the pod on its node, the fix's own controller check, the uid."""
    p = typed_params(fix, params)
    state = kube_state(ctx)
    pod = _pod_on_node(state, p.namespace, p.pod, p.node)
    owner = controller_of(pod)
    if (why := refuse(state, pod, owner)) is not None:
        raise FixRefused(why)
    return PodTarget(p, state, pod, owner, f"pod {p.namespace}/{p.pod}", _uid(pod))


def removal_plan(fix: str, ctx: FixContext, t: PodTarget, **fields: Any) -> FixPlan:
    """A plan that removes the pod once, if it still has the uid the plan read."""
    return FixPlan(
        fix=fix,
        cluster=ctx.cluster.name,
        params=t.params.model_dump(),
        changes=(Change(subject=t.subject, field="metadata.uid", before=t.uid, after=None),),
        preconditions={"uid": t.uid},
        **fields,
    )


def _daemonset_only(state: KubeState, pod: Obj, owner: Obj | None) -> str | None:
    subject = f"pod {kube.ref(pod)}"
    if owner is None or owner.get("kind") != "DaemonSet":
        run_by = f"{owner.get('kind')} {owner.get('name')}" if owner else "no controller"
        return (
            f"{subject} is run by {run_by}, not a DaemonSet: deleting it would not bring "
            "a device plugin back on the node"
        )
    namespace, daemonset = kube.namespace(pod), str(owner.get("name"))
    if state.get("daemonsets", namespace, daemonset) is None:
        return f"DaemonSet {namespace}/{daemonset} is gone: nothing would recreate {subject}"
    return None


def _not_a_daemonset(state: KubeState, pod: Obj, owner: Obj | None) -> str | None:
    if owner is not None and owner.get("kind") == "DaemonSet":
        return (
            f"pod {kube.ref(pod)} belongs to DaemonSet {owner.get('name')}: it comes back on "
            "the same node, so evicting it frees nothing"
        )
    return None


@actuator("restart-device-plugin")
class RestartDevicePlugin:
    fix = "restart-device-plugin"

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        t = read_target(self.fix, ctx, params, _daemonset_only)
        p, daemonset = t.params, str((t.owner or {}).get("name"))
        return removal_plan(
            self.fix,
            ctx,
            t,
            target=f"device plugin {t.subject} on {p.node}",
            # The node, not the pod: the recreated pod has a new name, the cooldown must hold.
            target_key=target_key(self.fix, ctx.cluster.name, p.namespace, "node", p.node),
            touches=(f"v1 Pod {p.namespace}/{p.pod}",),
            notes=(
                f"the DaemonSet {daemonset} recreates the pod on {p.node} within seconds",
                f"until the new plugin registers, {p.node} advertises no nvidia.com/gpu to new "
                "pods; running GPU pods keep their devices",
                f"restarts so far: {kube.restart_count(t.pod)}; a restart cures a lost kubelet "
                "registration, not a missing driver (read the plugin's log if it fails again)",
            ),
        )

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        p = typed_params(self.fix, plan.params)
        writer = Writer(ctx)
        options = {"preconditions": {"uid": plan.preconditions["uid"]}}
        core = client.CoreV1Api(writer.api)
        writer.call(
            f"DELETE v1 Pod {p.namespace}/{p.pod}",
            partial(core.delete_namespaced_pod, p.pod, p.namespace, body=options),
        )
        return ApplyResult(
            summary=f"deleted device plugin pod {p.namespace}/{p.pod} on {p.node}; its "
            "DaemonSet recreates it",
            written=tuple(writer.written),
        )

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        return _not_reversible(plan)


@actuator("evict-pinning-pod")
class EvictPinningPod:
    fix = "evict-pinning-pod"

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        t = read_target(self.fix, ctx, params, _not_a_daemonset)
        p = t.params
        return removal_plan(
            self.fix,
            ctx,
            t,
            target=f"{t.subject} pinning {p.node}",
            target_key=target_key(self.fix, ctx.cluster.name, p.namespace, "pod", p.pod),
            touches=(f"policy/v1 Eviction {p.namespace}/{p.pod}",),
            effect="eventual",  # the node goes at the autoscaler's next scan, not at once
            notes=_evict_notes(t.state, t.pod, t.owner, p.node),
        )

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        p = typed_params(self.fix, plan.params)
        writer = Writer(ctx)
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": p.pod, "namespace": p.namespace},
            "deleteOptions": {"preconditions": {"uid": plan.preconditions["uid"]}},
        }
        core = client.CoreV1Api(writer.api)
        writer.call(
            f"POST policy/v1 Eviction {p.namespace}/{p.pod}",
            partial(core.create_namespaced_pod_eviction, p.pod, p.namespace, body),
            explain={429: "a PodDisruptionBudget allows no disruption of this pod now"},
        )
        return ApplyResult(
            summary=f"evicted pod {p.namespace}/{p.pod} from {p.node}; the autoscaler can "
            "now remove the node at its next scan",
            written=tuple(writer.written),
        )

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        return _not_reversible(plan)


def _evict_notes(state: KubeState, pod: Obj, owner: Obj | None, node: str) -> tuple[str, ...]:
    notes = []
    if owner is None:
        notes.append(
            "the pod has no controller: eviction deletes it for good, nothing recreates it"
        )
    else:
        notes.append(
            f"its {owner.get('kind')} {owner.get('name')} recreates it where it fits; if it "
            f"fits only on {node}, it pins the node again"
        )
    if kube.annotations(pod).get(SAFE_TO_EVICT) == "false":
        notes.append(
            f'the pod is annotated {SAFE_TO_EVICT}: "false" (the autoscaler must not evict it); '
            "the Eviction API ignores that annotation, so this overrides it"
        )
    labels = kube.labels(pod)
    for pdb in state.list("poddisruptionbudgets", kube.namespace(pod)):
        match = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if match and all(labels.get(k) == v for k, v in match.items()):
            allowed = (pdb.get("status") or {}).get("disruptionsAllowed")
            notes.append(
                f"PodDisruptionBudget {kube.ref(pdb)} covers it: {allowed} disruption(s) allowed "
                "now; the eviction is refused while that is 0"
            )
    return tuple(notes)
