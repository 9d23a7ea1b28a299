"""Pure readers behind the morning readiness rungs (see bot/checks/readiness*.py).

Kept apart from the checks so the parsing (probe bodies, CronJob commands, device-plugin logs,
AKS node names) is unit-testable on its own with real-looking inputs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.checks import azure as arm
from bot.model import kube
from bot.model.domain import looks_like_gpu_sku
from bot.model.text import clip

Obj = dict[str, Any]


class RungParams(BaseModel):
    """Parameters of a readiness rung: strict, like every check's."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def gpu_pools(pools_body: Any) -> list[Obj]:
    """The agent pools of an Agent Pools - List body whose VM size is a GPU SKU."""
    return [
        p
        for p in arm.agent_pools(pools_body)
        if looks_like_gpu_sku(arm.pool_props(p).get("vmSize"))
    ]


# Device plugin as the AKS docs / KAITO chart (name=...) and the GPU Operator (app=...) label it.
PLUGIN_NAMES = ("nvidia-device-plugin-daemonset",)
PLUGIN_LABELS = (("name", "nvidia-device-plugin-ds"), ("app", "nvidia-device-plugin-daemonset"))
DRIVER_NAMES = ("nvidia-driver-daemonset",)
DRIVER_LABELS = (("app", "nvidia-driver-daemonset"),)

# Lines a device plugin prints when it cannot see the GPUs (k8s-device-plugin factory/main),
# with what each means for the person reading it.
PLUGIN_FAILURES = {
    "incompatible strategy detected": "no NVIDIA driver or container toolkit on the node",
    "incompatible platform detected": "no NVIDIA driver or container toolkit on the node",
    "could not load nvml library": "no NVIDIA driver on the node",
    "failed to initialize nvml": "driver and library do not match",
    "no devices found": "the driver sees no GPU",
    "could not register device plugin": "lost its registration with the kubelet",
    "error starting plugins": "the plugin exits at start",
}
KLOG_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ")

# AKS VMSS node names: aks-<pool>-<8 digits>-vmss<6 base-36 chars>.
AKS_NODE_NAME = re.compile(r"^aks-(?P<pool>[a-z][a-z0-9]{0,11})-\d+-vmss[0-9a-z]{6}$")
REPLICAS = re.compile(r"--replicas[= ](\d+)")


def template_labels(obj: Obj) -> dict[str, str]:
    """Pod template labels of a DaemonSet/Deployment/StatefulSet."""
    return ((((obj.get("spec") or {}).get("template") or {}).get("metadata")) or {}).get(
        "labels"
    ) or {}


def _is_kind(ds: Obj, names: tuple[str, ...], labels: tuple[tuple[str, str], ...]) -> bool:
    if kube.name(ds) in names:
        return True
    own = {**kube.labels(ds), **template_labels(ds)}
    return any(own.get(k) == v for k, v in labels)


def is_plugin_daemonset(ds: Obj) -> bool:
    return _is_kind(ds, PLUGIN_NAMES, PLUGIN_LABELS)


def is_driver_daemonset(ds: Obj) -> bool:
    return _is_kind(ds, DRIVER_NAMES, DRIVER_LABELS)


def ds_counts(ds: Obj) -> tuple[int, int]:
    """(desiredNumberScheduled, numberReady); absent counts read as 0, as kubectl shows them."""
    status = ds.get("status") or {}
    return int(status.get("desiredNumberScheduled") or 0), int(status.get("numberReady") or 0)


def owned_by(pod: Obj, ds: Obj) -> bool:
    return (
        kube.namespace(pod) == kube.namespace(ds)
        and kube.owner_kind(pod) == "DaemonSet"
        and kube.owner_name(pod) == kube.name(ds)
    )


def pod_ready(pod: Obj) -> bool:
    return kube.condition_status(pod, "Ready") == "True"


def pod_trouble(pod: Obj) -> str:
    """`CrashLoopBackOff, 168 restarts` or the phase: what a person sees in `kubectl get pods`."""
    reason = kube.waiting_reason(pod) or kube.phase(pod) or "not Ready"
    restarts = kube.restart_count(pod)
    return f"{reason}, {restarts} restarts" if restarts else reason


def plugin_log_problem(text: str | None) -> str | None:
    """The first line of a device-plugin log that says why it cannot see the GPUs, explained."""
    for line in (text or "").splitlines():
        for pattern, meaning in PLUGIN_FAILURES.items():
            if pattern in line.lower():
                message = KLOG_PREFIX.sub("", line.strip())
                return f"'{clip(message, 240)}' ({meaning})"
    return None


def pool_from_node_name(node_name: str) -> str | None:
    """The agent pool of an AKS node by its name (for nodes that no longer exist)."""
    match = AKS_NODE_NAME.match(node_name)
    return match.group("pool") if match else None


def pool_of_node(node_name: str, nodes: list[Obj] | None) -> str | None:
    """The node's agent pool: its label when the node is still listed, else its AKS name."""
    live = kube.by_name(nodes or []).get(node_name)
    return (kube.pool_name(live) if live else None) or pool_from_node_name(node_name)


def pool_floor(pool: str | None, pools: dict[str, Obj]) -> tuple[str, Obj | None]:
    """`, pool gpubatch minCount 1` and a pool-min-count offer when the pool keeps a node warm."""
    props = pools.get(pool or "")
    if props is None:
        return (f", pool {pool}" if pool else ""), None
    if not props.get("enableAutoScaling"):
        return f", pool {pool} fixed at {props.get('count')} nodes", None
    low = int(props.get("minCount") or 0)
    if str(props.get("mode", "")).lower() == "system":
        # AKS keeps system pods on a System pool's node: its minimum cannot go to 0.
        return f", System pool {pool} minCount {low}", None
    offer = {"pool": pool, "min_count": 0, "max_count": props.get("maxCount")} if low >= 1 else None
    return f", pool {pool} minCount {low}", offer


def probe_models(body: Any) -> list[str]:
    """Model ids in an OpenAI-style /v1/models body (a JSON string or an already parsed object)."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if not isinstance(body, dict):
        return []
    return [str(m["id"]) for m in body.get("data") or [] if isinstance(m, dict) and m.get("id")]


def probe_error(probe: Obj) -> str:
    """What a failed probe said: the error, else the body (clipped), else nothing."""
    for key in ("error", "body"):
        value = probe.get(key)
        if value:
            text = value if isinstance(value, str) else json.dumps(value)
            try:
                parsed = json.loads(text)
                text = str(parsed.get("message") or text) if isinstance(parsed, dict) else text
            except ValueError:
                pass
            return clip(text, 120)
    return ""


# ---- pre-warm --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """An inference workload and the node labels it needs (to find the pool that hosts it)."""

    namespace: str
    name: str
    kind: str  # statefulset | deployment | workspace
    selector: dict[str, str]
    workspace: str | None = None  # the KAITO Workspace running it
    inferenceset: str | None = None  # the InferenceSet that Workspace belongs to
    controller: str | None = None  # "Kind name" owning a non-KAITO StatefulSet/Deployment

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


def cronjob_text(cronjob: Obj) -> str:
    """Command and args of every container the CronJob's Job runs, as one line."""
    pod_spec = (((cronjob.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get(
        "template"
    ) or {}
    words: list[str] = []
    for c in (pod_spec.get("spec") or {}).get("containers") or []:
        words += [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
    return " ".join(words)


def scales_up(cronjob: Obj, workload: str, namespace: str | None = None) -> bool:
    """A live CronJob that runs `scale` on this workload to a non-zero replica count.

    A nightly `--replicas=0` job names the workload and says `scale` too: it is the opposite
    of a pre-warm, so a zero target does not count, nor does a suspended CronJob. With a
    namespace, the CronJob must live there or name it (`-n ns`, `--namespace=ns`).
    """
    if (cronjob.get("spec") or {}).get("suspend"):
        return False
    text = cronjob_text(cronjob)
    if not re.search(r"\bscale\b", text):
        return False
    if not re.search(r"(^|[\s/=])" + re.escape(workload) + r"($|[\s,])", text):
        return False
    if namespace and kube.namespace(cronjob) != namespace:
        flag = r"(^|\s)(-n|--namespace)[= ]" + re.escape(namespace) + r"($|\s)"
        if not re.search(flag, text):
            return False
    targets = [int(n) for n in REPLICAS.findall(text)]
    return not targets or max(targets) > 0


def pool_labels(pool: Obj) -> dict[str, str]:
    """Labels every node of an AKS agent pool carries: its nodeLabels plus pool name and size."""
    props = pool.get("properties") or {}
    out = {str(k): str(v) for k, v in (props.get("nodeLabels") or {}).items()}
    out.update({k: str(pool.get("name")) for k in kube.POOL_LABELS})
    out.update({k: str(props.get("vmSize")) for k in kube.INSTANCE_TYPE_LABELS})
    return out


def pool_hosts(pool: Obj, workload: Workload) -> bool:
    """The pool's nodes carry every label the workload selects (empty selects nothing)."""
    labels = pool_labels(pool)
    return bool(workload.selector) and all(labels.get(k) == v for k, v in workload.selector.items())


def _owned_by_workspace(obj: Obj) -> bool:
    return any(o.get("kind") == "Workspace" for o in kube.meta(obj).get("ownerReferences") or [])


def _requests_gpu(obj: Obj) -> bool:
    return kube.requests_gpu(
        {"spec": ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}}
    )


def inference_workloads(
    workspaces: list[Obj] | None, statefulsets: list[Obj] | None, deployments: list[Obj] | None
) -> list[Workload]:
    """KAITO inference workspaces (by the kind running them) and other GPU-requesting ones."""
    kinds = {(kube.namespace(o), kube.name(o)): "statefulset" for o in statefulsets or []}
    kinds.update({(kube.namespace(o), kube.name(o)): "deployment" for o in deployments or []})
    out = []
    for ws in workspaces or []:
        if not ws.get("inference"):
            continue
        sel = (((ws.get("resource") or {}).get("labelSelector")) or {}).get("matchLabels") or {}
        key = (kube.namespace(ws), kube.name(ws))
        kind = kinds.get(key, "workspace")
        out.append(Workload(*key, kind, dict(sel), key[1], kube.inferenceset_of(ws)))
    for kind, objs in (("statefulset", statefulsets), ("deployment", deployments)):
        for obj in objs or []:
            if _owned_by_workspace(obj) or not _requests_gpu(obj):
                continue
            spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
            owner = kube.owner_kind(obj)
            out.append(
                Workload(
                    kube.namespace(obj),
                    kube.name(obj),
                    kind,
                    dict(spec.get("nodeSelector") or {}),
                    controller=f"{owner} {kube.owner_name(obj)}" if owner else None,
                )
            )
    return out
