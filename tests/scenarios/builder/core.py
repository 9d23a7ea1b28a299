"""The healthy cluster, a partial one, and the row-1 quota scenarios."""

from __future__ import annotations

from tests.scenarios.builder import base
from tests.scenarios.builder.base import Cluster, condition, event, scenario


@scenario("healthy", confirmed=[], description="Healthy cluster: every row ruled out.")
def healthy() -> Cluster:
    return base.healthy()


@scenario("partial", confirmed=[], description="Healthy Kubernetes, but no Azure or Log Analytics files: "
          "rows that need them are inconclusive, never ruled out by default.")
def partial() -> Cluster:
    c = base.healthy()
    c.omit |= {"azure", "loganalytics"}
    return c


def _stuck_workspace(c: Cluster, *, minutes: float, message: str) -> None:
    """The llama workspace was re-created and waits for a node: no node, no pod yet."""
    c.k8s["nodes"] = [n for n in c.k8s["nodes"] if n["metadata"]["name"] != base.GPU_NODE]
    c.k8s["pods"] = [p for p in c.k8s["pods"] if p["spec"].get("nodeName") != base.GPU_NODE]
    c.k8s["daemonsets"][1]["status"].update(desiredNumberScheduled=0, currentNumberScheduled=0, numberReady=0,
                                              numberAvailable=0, updatedNumberScheduled=0)
    c.k8s["daemonsets"][0]["status"].update(desiredNumberScheduled=2, currentNumberScheduled=2, numberReady=2,
                                              numberAvailable=2, updatedNumberScheduled=2)
    c.k8s["statefulsets"] = []
    c.k8s["services"] = []
    ws = base.workspace(ready=False, age_hours=minutes / 60, conditions=[
        condition("NodeClaimReady", "False", "LaunchFailed", message, minutes_ago=minutes - 1),
        condition("ResourceReady", "False", "workspaceResourceStatusNotReady",
                  "node claim or node status condition not ready", minutes_ago=minutes - 1),
        condition("InferenceReady", "False", "WorkspaceInferenceStatusPending", "Inference workload is not ready",
                  minutes_ago=minutes - 1),
    ])
    c.k8s["workspaces"] = [ws]
    claim = {
        "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim",
        "metadata": {"name": "ws3f9a1c2d7", "uid": base.uid("ws3f9a1c2d7"), "creationTimestamp": base.ts(minutes=minutes - 1),
                     "labels": {"karpenter.sh/nodepool": "kaito", "kaito.sh/workspace": base.WS,
                                "kaito.sh/workspacenamespace": base.WS_NS, "apps": "llama-3-1-8b"},
                     "annotations": {"karpenter.sh/do-not-disrupt": "true"}},
        "spec": {"requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                   "values": [base.GPU_SKU]},
                                  {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}],
                 "taints": [base.GPU_TAINT], "resources": {"requests": {"storage": "120Gi"}},
                 "nodeClassRef": {"group": "karpenter.azure.com", "kind": "AKSNodeClass", "name": "image-family-ubuntu"}},
        "status": {"conditions": [
            {"type": "Launched", "status": "Unknown", "reason": "LaunchFailed", "message": message,
             "lastTransitionTime": base.ts(minutes=minutes - 2)},
            {"type": "Ready", "status": "Unknown", "reason": "AwaitingReconciliation",
             "message": "object is awaiting reconciliation", "lastTransitionTime": base.ts(minutes=minutes - 1)}]},
    }
    c.k8s["nodeclaims"] = [claim]
    c.k8s["events"].append(event(name="ws3f9a1c2d7.17f3", kind="NodeClaim", obj_name="ws3f9a1c2d7", ns="",
                                 reason="FailedLaunch", message=message, minutes_ago=3, type_="Warning",
                                 component="karpenter", count=6, first_minutes_ago=minutes - 2))
    c.pool("gpua100")["properties"].update(count=0)
    c.metrics, c.probes = {}, {}
    c.logs = {k: v for k, v in c.logs.items() if not k.startswith(f"{base.WS_NS}/{base.WS}-0")
              and "nvidia-device-plugin" not in k}
    c.loganalytics["gpu-node-hours"]["tables"][0]["rows"] = []


QUOTA_MESSAGE = ("creating instance: Operation could not be completed as it results in exceeding approved "
                 "standardNCADSA100v4Family Cores quota. Additional details - Deployment Model: Resource Manager, "
                 "Location: eastus2, Current Limit: 0, Current Usage: 0, Additional Required: 24, "
                 "(Minimum) New Limit Required: 24. Submit a request for Quota increase")


@scenario("quota-exhausted/confirmed", confirmed=["quota-exhausted"],
          description="Family quota 0: the workspace's NodeClaim has not launched for 14 min.")
def quota_zero() -> Cluster:
    c = base.healthy()
    _stuck_workspace(c, minutes=14, message=QUOTA_MESSAGE)
    fam = c.usage("standardNCADSA100v4Family")
    fam.update(currentValue=0, limit=0)
    c.usage("cores").update(currentValue=8)
    return c


def _waiting_workspace(c: Cluster, *, minutes: float = 25) -> None:
    """workspace-phi-4 was created `minutes` ago and its NodeClaim cannot launch."""
    ws2 = base.workspace(
        "workspace-phi-4", sku=base.GPU_SKU, preset="phi-4", ready=False, config=None,
        age_hours=minutes / 60, label_value="phi-4", conditions=[
            condition("ResourceReady", "False", "workspaceResourceStatusNotReady",
                      "node claim or node status condition not ready", minutes_ago=minutes - 1)])
    c.k8s["workspaces"].append(ws2)
    c.k8s["nodeclaims"].append({
        "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim",
        "metadata": {"name": "ws8b21c0e4a", "uid": base.uid("ws8b21c0e4a"),
                     "creationTimestamp": base.ts(minutes=minutes - 1),
                     "labels": {"karpenter.sh/nodepool": "kaito", "kaito.sh/workspace": "workspace-phi-4",
                                "kaito.sh/workspacenamespace": base.WS_NS}},
        "spec": {"requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                   "values": [base.GPU_SKU]}]},
        "status": {"conditions": [{"type": "Launched", "status": "Unknown", "reason": "LaunchFailed",
                                   "message": "creating instance: Operation could not be completed as it results in "
                                              "exceeding approved standardNCADSA100v4Family Cores quota. Addi",
                                   "lastTransitionTime": base.ts(minutes=minutes - 2)}]},
    })


@scenario("quota-exhausted/confirmed-second-node", confirmed=["quota-exhausted"],
          description="Quota too low for the second node: one A100 node up (24/24 used), a second "
                      "workspace's NodeClaim waits 25 min; ARM spells the family in another case.")
def quota_second_node() -> Cluster:
    c = base.healthy()
    _waiting_workspace(c)
    fam = c.usage("standardNCADSA100v4Family")
    fam["name"]["value"] = "StandardNCADSA100v4Family"
    fam.update(currentValue=24, limit=24)
    return c


@scenario("quota-exhausted/ruled-out", confirmed=["sku-unavailable"],
          description="Workspace stuck 20 min but the family has 72 vCPUs free: the SKU is restricted in "
                      "the region instead, so quota is ruled out and sku-unavailable confirmed.")
def quota_ruled_out() -> Cluster:
    c = base.healthy()
    _stuck_workspace(c, minutes=20, message="creating instance: all requested instance types were unavailable "
                                            "during launch")
    sku = next(s for s in c.azure["skus"]["value"] if s["name"] == base.GPU_SKU)
    sku["restrictions"] = [{"type": "Location", "values": [base.LOCATION],
                            "restrictionInfo": {"locations": [base.LOCATION]},
                            "reasonCode": "NotAvailableForSubscription"}]
    c.usage("standardNCADSA100v4Family").update(currentValue=0)
    return c


@scenario("quota-exhausted/regional-cap", confirmed=["quota-exhausted"],
          description="Family quota raised to 96 but Total Regional vCPUs are 340/350: no room for 24 more.")
def quota_regional_cap() -> Cluster:
    c = base.healthy()
    _stuck_workspace(c, minutes=31, message="creating instance: Operation could not be completed as it results in "
                                            "exceeding approved Total Regional Cores quota.")
    c.usage("standardNCADSA100v4Family").update(currentValue=0, limit=96)
    c.usage("cores").update(currentValue=340, limit=350)
    return c


@scenario("demo", confirmed=["quota-exhausted", "scale-down-blocked"],
          description="The demo bundled with gpubot: workspace-phi-4 waits on a full A100 family "
                      "quota (48/48) while an idle A100 node, pinned by a kube-system pod, holds 24 "
                      "of those vCPUs.")
def demo() -> Cluster:
    from tests.scenarios.builder.cost import scale_down_confirmed

    c = scale_down_confirmed()
    _waiting_workspace(c, minutes=14)
    c.usage("standardNCADSA100v4Family").update(currentValue=48, limit=48)
    c.usage("cores").update(currentValue=56)
    return c
