"""cap-max-model-len: lower `max-model-len` in a KAITO workspace's inference config, then
restart its pods so vLLM reads it.

The config is the ConfigMap the Workspace names in `inference.config`: key
`inference_config.yaml`, a YAML document with a `vllm:` section (KAITO's
`kaito_workspace_custom_config.yaml` example). The edit changes that one line in place, so
the file's comments and other settings stay as the team wrote them, and is checked by parsing
the result. The PATCH carries the ConfigMap's resourceVersion: a concurrent edit is a 409.

Rolling the workload without fighting KAITO: KAITO owns the StatefulSet/Deployment and its pod
template, and a config change is not part of the Workspace revision it rolls on, so vLLM keeps
the old value until its pods restart. A `rollout restart` would write a restartedAt annotation
into the template KAITO reconciles. Evicting the pods writes no desired state at all: the
workload's own controller recreates them from KAITO's template, mounting the new config, and the
Eviction API honours any PodDisruptionBudget that paces them.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kubernetes import client

from bot.model import inference_config, kube
from bot.model.plans import ApplyResult, Change, FixFailed, FixPlan, FixRefused
from bot.sources.actuators import actuator
from bot.sources.actuators.context import FixContext, KubeState
from bot.sources.actuators.kube_writes import (
    MERGE_PATCH,
    Writer,
    controller_of,
    kube_state,
    target_key,
    typed_params,
)

FIX = "cap-max-model-len"
KEY = inference_config.KEY
Obj = dict[str, Any]


def edit_max_model_len(text: str, new: int) -> str:
    """The same text with `vllm.max-model-len` set to `new`; refused if that is not one line."""
    try:
        return inference_config.edit_max_model_len(text, new)
    except inference_config.NotEditable as exc:
        raise FixRefused(str(exc)) from None


def _workload_pods(state: KubeState, namespace: str, workspace: str) -> list[Obj]:
    return state.list("pods", namespace, label_selector=f"{kube.WORKSPACE_LABEL}={workspace}")


def _workspace_for(state: KubeState, namespace: str, configmap: str, named: str | None) -> str:
    if named:
        return named
    users = [
        kube.name(ws)
        for ws in state.list("workspaces", namespace)
        if (ws.get("inference") or {}).get("config") == configmap
    ]
    if len(users) != 1:
        raise FixRefused(
            f"ConfigMap {namespace}/{configmap} is the inference config of {len(users)} "
            "workspaces: name the workspace whose pods to restart"
        )
    return users[0]


def _plan(ctx: FixContext, p: Any, target: int) -> FixPlan:
    state = kube_state(ctx)
    subject = f"configmap {p.namespace}/{p.configmap}"
    cm = state.get("configmaps", p.namespace, p.configmap)
    if cm is None:
        raise FixRefused(f"{subject} not found")
    owner = controller_of(cm)
    if owner is not None:
        raise FixRefused(
            f"{subject} is managed by {owner.get('kind')} {owner.get('name')}: it would put "
            "its own value back; point the Workspace's inference.config at a ConfigMap you own"
        )
    text = (cm.get("data") or {}).get(KEY)
    current = inference_config.max_model_len(text)
    if text is None or current is None:
        raise FixRefused(f"{subject} sets no vllm max-model-len in {KEY}")
    if target < 1:
        raise FixRefused(f"max-model-len {target}: must be a positive number of tokens")
    edited = edit_max_model_len(text, target)
    workspace = _workspace_for(state, p.namespace, p.configmap, p.workspace)
    pods = sorted(kube.name(pod) for pod in _workload_pods(state, p.namespace, workspace))
    version = str(kube.meta(cm).get("resourceVersion") or "")
    return FixPlan(
        fix=FIX,
        cluster=ctx.cluster.name,
        target=f"{subject} (workspace {workspace}): max-model-len {current} -> {target}",
        target_key=target_key(FIX, ctx.cluster.name, p.namespace, "configmap", p.configmap),
        params=p.model_dump(),
        changes=(
            Change(subject=subject, field="vllm.max-model-len", before=current, after=target),
            Change(subject=subject, field=f"data.{KEY}", before=text, after=edited),
        ),
        touches=(
            f"v1 ConfigMap {p.namespace}/{p.configmap}",
            *(f"policy/v1 Eviction {p.namespace}/{pod}" for pod in pods),
        ),
        preconditions={"resourceVersion": version} if version else {},
        restore={"max_model_len": current, "workspace": workspace},
        effect="eventual",
        notes=(
            f"then evicts the pods of workspace {workspace} ({', '.join(pods) or 'none now'}) so "
            "vLLM restarts with the new value; each is down until it reloads its weights "
            "(minutes), and all restart together unless a PodDisruptionBudget paces them",
            "requests longer than the new max-model-len are rejected by vLLM",
        ),
    )


@actuator(FIX)
class CapMaxModelLen:
    fix = FIX

    def plan(self, ctx: FixContext, params: Any) -> FixPlan:
        p = typed_params(FIX, params)
        plan = _plan(ctx, p, p.new_max_model_len)
        if plan.changes[0].after >= plan.changes[0].before:
            raise FixRefused(
                f"max-model-len is {plan.changes[0].before}: {p.new_max_model_len} would not "
                "lower it"
            )
        return plan

    def apply(self, ctx: FixContext, plan: FixPlan) -> ApplyResult:
        p = typed_params(FIX, plan.params)
        writer = Writer(ctx)
        version = plan.preconditions.get("resourceVersion")
        if not version:
            raise FixRefused("the plan carries no resourceVersion: refusing an unconditional edit")
        body = {"metadata": {"resourceVersion": version}, "data": {KEY: plan.changes[1].after}}
        core = client.CoreV1Api(writer.api)
        writer.call(
            f"PATCH v1 ConfigMap {p.namespace}/{p.configmap}",
            partial(
                core.patch_namespaced_config_map,
                p.configmap,
                p.namespace,
                body,
                _content_type=MERGE_PATCH,
            ),
        )
        workspace = str((plan.restore or {}).get("workspace") or p.workspace)
        missed = _restart(writer, kube_state(ctx), p.namespace, workspace)
        change = plan.changes[0]
        summary = f"{change.subject}: max-model-len {change.before} -> {change.after}"
        if missed:
            raise FixFailed(
                f"{summary} written, but these pods still run the old value: "
                f"{'; '.join(missed)}; restart them to apply it (already written: "
                f"{', '.join(writer.written)})"
            )
        return ApplyResult(summary=f"{summary}; pods restarted", written=tuple(writer.written))

    def undo(self, ctx: FixContext, plan: FixPlan) -> FixPlan:
        if plan.restore is None:
            raise FixRefused(f"{plan.target}: nothing recorded to restore")
        p = typed_params(FIX, plan.params)
        return _plan(ctx, p, int(plan.restore["max_model_len"]))


def _restart(writer: Writer, state: KubeState, namespace: str, workspace: str) -> list[str]:
    """Evict the workspace's pods as they are after the ConfigMap write (those are the ones
    holding the old value); returns the ones that could not be evicted, with why."""
    missed = []
    core = client.CoreV1Api(writer.api)
    for pod in _workload_pods(state, namespace, workspace):
        name = kube.name(pod)
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
            "deleteOptions": {"preconditions": {"uid": kube.meta(pod).get("uid")}},
        }
        failed = writer.attempt(
            f"POST policy/v1 Eviction {namespace}/{name}",
            partial(core.create_namespaced_pod_eviction, name, namespace, body),
            explain={429: "a PodDisruptionBudget allows no disruption now"},
        )
        # 404/409: the pod is gone or was replaced after the list: it runs the new value.
        if failed is not None and failed[0] not in (404, 409):
            missed.append(f"{name}: {failed[1]}")
    return missed
