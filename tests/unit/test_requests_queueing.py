"""memory.requests_queueing (row 11's symptom) when no vLLM pod serves: nothing queues only if
nothing wants to serve. A workload rolling out, crash-looping or just evicted is inconclusive,
so a verify right after cap-max-model-len cannot call the symptom gone too early."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.checks import memory_kv
from bot.model.context import CheckContext, Scope
from bot.model.evidence import Answer, Question
from bot.model.verdicts import Verdict

NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
CTX = CheckContext(now=NOW)
WS = "ws"
VLLM = {"name": "vllm", "image": "vllm/vllm-openai:v0.9.2"}


def _list(resource: str, items: list[dict] | None, unavailable: str | None = None) -> Answer:
    question = Question.of("kubernetes.list", {"resource": resource})
    return Answer(question, items, unavailable=unavailable)


def _metrics(entries: list[dict] | None, unavailable: str | None = None) -> Answer:
    return Answer(Question.of("kubernetes.pod_metrics", None), entries, unavailable=unavailable)


def _deployment(replicas: int | None, *, ns: str = "default", name: str = WS) -> dict:
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [VLLM]}}
    }
    if replicas is not None:
        spec["replicas"] = replicas
    meta = {"name": name, "namespace": ns, "labels": {"kaito.sh/workspace": name}}
    return {"metadata": meta, "spec": spec, "status": {"readyReplicas": 0}}


def _pod(name: str, *, ready: bool, phase: str = "Running", waiting: str | None = None) -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    owner = {"kind": "ReplicaSet", "name": f"{WS}-6c8f", "controller": True}
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"kaito.sh/workspace": WS, "pod-template-hash": "6c8f"},
            "ownerReferences": [owner],
        },
        "spec": {"containers": [VLLM]},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "vllm", "state": state}],
        },
    }


def _serving(name: str, waiting: float) -> dict:
    samples = [
        {"name": "vllm:num_requests_waiting", "labels": {}, "value": waiting},
        {"name": "vllm:num_requests_running", "labels": {}, "value": 3.0},
        {"name": "vllm:kv_cache_usage_perc", "labels": {}, "value": 0.5},
    ]
    return {"namespace": "default", "pod": name, "samples": samples}


def _ev(
    *,
    metrics: Answer | None = None,
    pods: list[dict] | None = None,
    deployments: Answer | list[dict] | None = None,
    workspaces: list[dict] | None = None,
) -> dict[str, Answer]:
    deps = deployments if isinstance(deployments, Answer) else _list("deployments", deployments)
    return {
        "metrics": metrics or _metrics([]),
        "pods": _list("pods", pods or []),
        "statefulsets": _list("statefulsets", []),
        "deployments": deps if deployments is not None else _list("deployments", []),
        "workspaces": _list("workspaces", workspaces or []),
    }


def _run(ev: dict[str, Answer], ctx: CheckContext = CTX) -> tuple[Verdict, str]:
    result = memory_kv.requests_queueing(ev, None, ctx)
    return result.verdict, "; ".join(result.lines)


def test_evicted_workload_that_wants_replicas_is_inconclusive_not_ruled_out() -> None:
    verdict, text = _run(_ev(deployments=[_deployment(3)]))
    assert verdict == Verdict.INCONCLUSIVE
    assert "Deployment default/ws wants 3 replicas and none is serving yet (no pod yet)" in text


def test_pods_back_but_not_ready_name_their_state() -> None:
    pods = [
        _pod("ws-6c8f-a", ready=False, phase="Pending", waiting="ContainerCreating"),
        _pod("ws-6c8f-b", ready=False, waiting="CrashLoopBackOff"),
    ]
    verdict, text = _run(_ev(pods=pods, deployments=[_deployment(2)]))
    assert verdict == Verdict.INCONCLUSIVE
    assert "wants 2 replicas and none is serving yet" in text
    assert "default/ws-6c8f-a: Pending (ContainerCreating)" in text
    assert "default/ws-6c8f-b: Running, not Ready (CrashLoopBackOff)" in text


def test_metrics_unread_while_pods_are_not_ready_is_still_inconclusive() -> None:
    ev = _ev(
        metrics=_metrics(None, unavailable="pod proxy timeout"),
        pods=[_pod("ws-6c8f-a", ready=False, phase="Pending")],
        deployments=[_deployment(None)],  # no spec.replicas: the API server's default, 1
    )
    verdict, text = _run(ev)
    assert verdict == Verdict.INCONCLUSIVE
    assert "wants 1 replica and none is serving yet" in text


def test_a_bare_vllm_pod_that_is_not_ready_is_inconclusive() -> None:
    pod = _pod("vllm-solo", ready=False, phase="Pending")
    pod["metadata"].pop("ownerReferences")
    verdict, text = _run(_ev(pods=[pod]))
    assert verdict == Verdict.INCONCLUSIVE
    assert "default/vllm-solo is meant to serve but is Pending" in text


def test_an_inference_workspace_with_no_workload_yet_is_inconclusive() -> None:
    ws = {"metadata": {"name": WS, "namespace": "default"}, "inference": {"preset": {}}}
    verdict, text = _run(_ev(workspaces=[ws]))
    assert verdict == Verdict.INCONCLUSIVE
    assert "Workspace default/ws wants inference served and none is serving yet" in text


def test_nothing_wanted_rules_out() -> None:
    tuning = {"metadata": {"name": "tune", "namespace": "default"}, "tuning": {}}
    scaled_to_zero = _deployment(0)
    verdict, text = _run(_ev(deployments=[scaled_to_zero], workspaces=[tuning]))
    assert verdict == Verdict.RULED_OUT
    assert "no vLLM pod is serving and none is wanted, so nothing is queueing" in text


def test_serving_pods_without_a_queue_rule_out_while_others_still_roll() -> None:
    pods = [_pod("ws-6c8f-a", ready=True), _pod("ws-6c8f-b", ready=False, phase="Pending")]
    ev = _ev(
        metrics=_metrics([_serving("ws-6c8f-a", 0.0)]), pods=pods, deployments=[_deployment(2)]
    )
    verdict, text = _run(ev)
    assert verdict == Verdict.RULED_OUT
    assert "no request waiting on 1 vLLM pod" in text


def test_workloads_unreadable_while_nothing_serves_is_inconclusive() -> None:
    ev = _ev(deployments=_list("deployments", None, unavailable="503 Service Unavailable"))
    verdict, text = _run(ev)
    assert verdict == Verdict.INCONCLUSIVE
    assert "whether a workload wants to is unknown" in text
    assert "kubernetes/deployments unavailable: 503 Service Unavailable" in text


def test_a_wanting_workload_outside_the_scope_does_not_count() -> None:
    ev = _ev(deployments=[_deployment(3, ns="other")])
    assert _run(ev, CheckContext(now=NOW, scope=Scope("default")))[0] == Verdict.RULED_OUT
    assert _run(ev)[0] == Verdict.INCONCLUSIVE


def test_a_non_vllm_deployment_does_not_want_vllm_replicas() -> None:
    web = _deployment(2, name="web")
    web["metadata"]["labels"] = {}
    web["spec"]["template"]["spec"]["containers"] = [{"name": "web", "image": "nginx:1.27"}]
    assert _run(_ev(deployments=[web]))[0] == Verdict.RULED_OUT


def test_a_pod_in_another_namespace_is_not_the_workloads() -> None:
    stranger = _pod("ws-6c8f-z", ready=False, phase="Pending")
    stranger["metadata"]["namespace"] = "other"
    verdict, text = _run(_ev(pods=[stranger], deployments=[_deployment(1)]))
    assert verdict == Verdict.INCONCLUSIVE
    assert "Deployment default/ws wants 1 replica and none is serving yet (no pod yet)" in text
    assert "other/ws-6c8f-z is meant to serve but is Pending" in text
