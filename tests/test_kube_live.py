"""KubeSource with the REAL `kubernetes` client against the loopback API emulator.

Parity: every `kubernetes.*` question the bundled playbooks ask (plus every resource and every
question kind, so a new playbook is covered before it exists) answers live exactly as the
snapshot answers offline. Then scale (10,000 pods, no cluster-wide pod list) and faults.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bot.engine.runner import diagnose
from bot.model.evidence import Answer, Question
from bot.render.json_out import document
from bot.sources.kube import KubeSource
from bot.sources.kube_paths import RESOURCES
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT, SCENARIOS, scenario_dirs
from tests.emulators.kube_api import TOKEN, Fault, KubeApiEmulator
from tests.emulators.large_cluster import large_cluster

HEALTHY = SCENARIOS / "healthy"
PROBE_CAP = 2.0  # seconds the emulator really waits for a probe's recorded latency


def baseline_questions() -> list[Question]:
    qs = [Question.of("kubernetes.list", {"resource": r}) for r in RESOURCES]
    qs += [
        Question.of(
            "kubernetes.list", {"resource": "pods", "field_selector": "status.phase=Pending"}
        ),
        Question.of("kubernetes.list", {"resource": "pods", "namespace": "default"}),
        Question.of("kubernetes.list", {"resource": "events", "field_selector": "type=Warning"}),
        Question.of(
            "kubernetes.list", {"resource": "pods", "label_selector": "k8s-app=kube-proxy"}
        ),
        Question.of("kubernetes.pods_on_gpu_nodes"),
        Question.of("kubernetes.pod_logs"),
        Question.of(
            "kubernetes.pod_logs",
            {"namespace": "gpu-resources", "label_selector": "name=nvidia-device-plugin-ds"},
        ),
        Question.of("kubernetes.pod_metrics"),
        Question.of("kubernetes.service_probes"),
    ]
    return qs


def all_questions(catalog: Any) -> list[Question]:
    asked = {
        q
        for playbook in catalog.playbooks.values()
        for q in playbook.questions.values()
        if q.kind.startswith("kubernetes.")
    }
    return sorted(asked | set(baseline_questions()), key=lambda q: (q.kind, q.params))


def source_for(api: KubeApiEmulator, tmp: Path, **options: Any) -> KubeSource:
    kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
    options.setdefault("timeout", 10.0)
    return KubeSource.from_kubeconfig(str(kubeconfig), None, **options)


def comparable(answer: Answer) -> Any:
    """Order-insensitive data (the API orders lists its own way); probe latency apart, and the
    resourceVersion the emulator stamps on objects whose fixture file has none."""
    if not answer.available:
        return "unavailable"
    rows = [dict(item) for item in answer.data]
    if answer.question.kind == "kubernetes.service_probes":
        for row in rows:
            row.pop("latency_ms")
    for row in rows:
        if isinstance(row.get("metadata"), dict):
            row["metadata"] = {k: v for k, v in row["metadata"].items() if k != "resourceVersion"}
    return sorted(json.dumps(row, sort_keys=True) for row in rows)


@pytest.mark.parametrize(
    "snapshot", scenario_dirs(), ids=lambda p: str(p.relative_to(ROOT / "tests/scenarios"))
)
def test_live_answers_equal_offline(snapshot: Path, catalog: Any, tmp_path: Path) -> None:
    offline = SnapshotSource(snapshot)
    # 403 for an absent CRD file: in a snapshot that means "not collected", not "not installed".
    with KubeApiEmulator(snapshot, missing_crd_status=403, latency_cap=PROBE_CAP) as api:
        live = source_for(api, tmp_path)
        for q in all_questions(catalog):
            got, want = live.answer(q), offline.answer(q)
            assert comparable(got) == comparable(want), (q, got.unavailable, want.unavailable)
            if q.kind == "kubernetes.service_probes" and want.available:
                for g, w in zip(sorted(got.data, key=str), sorted(want.data, key=str), strict=True):
                    expected = min(w["latency_ms"], PROBE_CAP * 1000)
                    assert expected - 1 <= g["latency_ms"] <= expected + 1500, (g, w)
        unfiltered = [
            r
            for r in api.seen(path="/api/v1/pods")
            if not r.query.get("fieldSelector") and not r.query.get("labelSelector")
        ]
        asked_all_pods = any(
            q.param("resource") == "pods" and len(q.params) == 1 for q in all_questions(catalog)
        )
        assert bool(unfiltered) == asked_all_pods, "only an unfiltered question lists every pod"


class KubeLiveRestOffline:
    """Kubernetes questions live through the emulator, everything else from the snapshot (the
    Azure half has its own emulator); cluster and clock from the snapshot, as GPUBOT_NOW."""

    kind = "snapshot"

    def __init__(self, kube: KubeSource, offline: SnapshotSource) -> None:
        self.kube, self.offline, self.cluster = kube, offline, offline.cluster
        self.reasons: dict[str, str] = {}  # live reason -> offline reason, both unavailable

    def now(self) -> Any:
        return self.offline.now()

    def answer(self, q: Question) -> Answer:
        if not q.kind.startswith("kubernetes."):
            return self.offline.answer(q)
        got, want = self.kube.answer(q), self.offline.answer(q)
        if got.unavailable and want.unavailable:
            self.reasons[got.unavailable] = want.unavailable
        return got

    def offline_wording(self, value: Any) -> Any:
        """Each source says why in its own words ("403 Forbidden: pods/log is forbidden..." vs
        "kubernetes/logs/ is not in the snapshot"); lines must agree on everything else."""
        if isinstance(value, dict):
            return {k: self.offline_wording(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.offline_wording(v) for v in value]
        if isinstance(value, str):
            for live, offline in self.reasons.items():
                value = value.replace(live, offline)
        return value


@pytest.mark.parametrize(
    "snapshot", scenario_dirs(), ids=lambda p: str(p.relative_to(ROOT / "tests/scenarios"))
)
def test_live_kubernetes_gives_the_offline_diagnosis(
    snapshot: Path, catalog: Any, tmp_path: Path
) -> None:
    playbooks = list(catalog.playbooks.values())
    offline = SnapshotSource(snapshot)
    want = document(diagnose(playbooks, offline))
    with KubeApiEmulator(snapshot, missing_crd_status=403, latency_cap=PROBE_CAP) as api:
        mixed = KubeLiveRestOffline(source_for(api, tmp_path), offline)
        got = mixed.offline_wording(document(diagnose(playbooks, mixed)))
    assert measured(got) == measured(want)


def measured(doc: dict[str, Any]) -> dict[str, Any]:
    """Probe latency is measured live (the emulator really waits the recorded time, plus a few
    ms of loopback): in findings that read probes, compare "<n> ms" as a number, not digits."""
    out = dict(doc, findings=[])
    for finding in doc["findings"]:
        if any("service-probes" in str(e.get("source")) for e in finding["evidence"]):
            text = re.sub(r"\b\d+ ms\b", "<measured> ms", json.dumps(finding))
            finding = json.loads(text)
        out["findings"].append(finding)
    return out


def test_lists_page_across_limit(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        live = source_for(api, tmp_path, page_size=3)
        q = Question.of("kubernetes.list", {"resource": "pods"})
        got = live.answer(q)
        assert comparable(got) == comparable(SnapshotSource(HEALTHY).answer(q))
        pages = api.seen(path="/api/v1/pods")
        assert [r.query["limit"] for r in pages] == ["3", "3", "3"]
        assert "continue" not in pages[0].query and all(r.query.get("continue") for r in pages[1:])


@pytest.fixture(scope="module")
def big_cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big") / "snapshot"
    large_cluster(nodes=200, pods=10_000).write(root)
    return root


def test_ten_thousand_pods_answered_without_a_cluster_wide_pod_list(
    big_cluster: Path, tmp_path: Path
) -> None:
    offline = SnapshotSource(big_cluster)
    assert len(offline.answer(Question.of("kubernetes.list", {"resource": "pods"})).data) == 10_000
    with KubeApiEmulator(big_cluster) as api:
        live = source_for(api, tmp_path)
        started = time.monotonic()
        for q in (
            Question.of("kubernetes.pods_on_gpu_nodes"),
            Question.of(
                "kubernetes.list", {"resource": "pods", "field_selector": "status.phase=Pending"}
            ),
        ):
            got = live.answer(q)
            assert got.available, got.unavailable
            assert comparable(got) == comparable(offline.answer(q))
        elapsed = time.monotonic() - started
        pod_lists = api.seen(path="/api/v1/pods")
        assert pod_lists and all(r.query.get("fieldSelector") for r in pod_lists), "narrow only"
        per_node = [r for r in pod_lists if r.query["fieldSelector"].startswith("spec.nodeName=")]
        assert len(per_node) == 50  # one list per GPU node, none for the 150 CPU nodes
        assert len(api.seen(path="/api/v1/nodes")) == 1
        assert elapsed < 30, f"took {elapsed:.1f}s"


def test_the_gpu_subset_of_ten_thousand_pods_pages_once_and_keeps_what_checks_read(
    big_cluster: Path, tmp_path: Path
) -> None:
    q = Question.of("kubernetes.list", {"resource": "pods", "subset": "gpu"})
    offline = SnapshotSource(big_cluster).answer(q)
    with KubeApiEmulator(big_cluster) as api:
        got = source_for(api, tmp_path, page_size=1000).answer(q)
        assert got.available, got.unavailable
        assert comparable(got) == comparable(offline)
        pages = [r for r in api.seen(path="/api/v1/pods") if "fieldSelector" not in r.query]
        assert len(pages) == 10, "every page once, each asked for while the last decoded"
        assert len(api.seen(path="/api/v1/nodes")) == 1
    assert 0 < len(got.data) < 1_000, "the healthy web pods on CPU nodes are left out"


# ---- faults --------------------------------------------------------------------------------

NODES = Question.of("kubernetes.list", {"resource": "nodes"})


def test_timeout_is_unavailable_with_the_reason_and_no_silent_retry(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        api.fault("GET /api/v1/nodes", Fault("timeout", hang=10))
        live = source_for(api, tmp_path, timeout=0.5)
        started = time.monotonic()
        got = live.answer(NODES)
        assert got.unavailable == "timeout after 0.5s"
        assert time.monotonic() - started < 2.5
        assert len(api.seen(path="/api/v1/nodes")) == 1


def test_429_with_retry_after_is_honoured_then_succeeds(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        api.fault("GET /api/v1/nodes", Fault("status", status=429, retry_after="1", times=1))
        got = source_for(api, tmp_path).answer(NODES)
        assert got.available and len(got.data) == 3
        first, second = api.seen(path="/api/v1/nodes")
        assert second.at - first.at >= 0.95, "waited Retry-After: 1 before trying again"


def test_503_exhausts_bounded_retries(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        api.fault("GET /api/v1/nodes", Fault("status", status=503, retry_after="0"))
        got = source_for(api, tmp_path, retries=2).answer(NODES)
        assert got.unavailable is not None
        assert got.unavailable.startswith("503 Service Unavailable: the server is currently unable")
        assert got.unavailable.endswith("(gave up after 3 tries)")
        assert len(api.seen(path="/api/v1/nodes")) == 3


def test_retry_after_is_capped(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        api.fault("GET /api/v1/nodes", Fault("status", status=429, retry_after="3600", times=1))
        started = time.monotonic()
        got = source_for(api, tmp_path, max_retry_sleep=0.2).answer(NODES)
        assert got.available and time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("malformed", "malformed JSON in the nodes list response: "),
        ("truncated", "response cut off"),
    ],
)
def test_bad_bodies_are_unavailable(kind: str, reason: str, tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        api.fault("GET /api/v1/nodes", Fault(kind))
        got = source_for(api, tmp_path).answer(NODES)
        assert got.unavailable is not None and got.unavailable.startswith(reason), got.unavailable


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with KubeApiEmulator(HEALTHY) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    text = kubeconfig.read_text().replace(api.url, f"http://127.0.0.1:{port}")
    kubeconfig.write_text(text)
    live = KubeSource.from_kubeconfig(str(kubeconfig), "emulator", timeout=2)
    for q in baseline_questions():
        got = live.answer(q)
        assert got.unavailable is not None and "Connection refused" in got.unavailable, q
        assert got.unavailable.startswith("cannot reach the Kubernetes API server")
        assert TOKEN not in got.unavailable


def _copy(tmp_path: Path, drop: str | None = None) -> Path:
    root = tmp_path / "snap"
    shutil.copytree(HEALTHY, root)
    if drop:
        target = root / "kubernetes" / drop
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return root


def test_absent_crd_is_an_empty_list_not_an_error(tmp_path: Path) -> None:
    with KubeApiEmulator(_copy(tmp_path, "workspaces.json")) as api:
        got = source_for(api, tmp_path).answer(
            Question.of("kubernetes.list", {"resource": "workspaces"})
        )
        assert got.available and got.data == []
        tried = [r.path for r in api.requests if "kaito.sh" in r.path]
        assert tried == ["/apis/kaito.sh/v1beta1/workspaces", "/apis/kaito.sh/v1alpha1/workspaces"]


def test_workspaces_fall_back_to_v1alpha1(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "kubernetes" / "workspaces.json"
    path.write_text(path.read_text().replace("kaito.sh/v1beta1", "kaito.sh/v1alpha1"))
    with KubeApiEmulator(root) as api:
        got = source_for(api, tmp_path).answer(
            Question.of("kubernetes.list", {"resource": "workspaces"})
        )
        assert [w["apiVersion"] for w in got.data] == ["kaito.sh/v1alpha1"]


def test_forbidden_is_unavailable_with_the_api_servers_message(tmp_path: Path) -> None:
    with KubeApiEmulator(_copy(tmp_path, "pods.json")) as api:
        live = source_for(api, tmp_path)
        for q in (
            Question.of("kubernetes.list", {"resource": "pods"}),
            Question.of("kubernetes.pods_on_gpu_nodes"),
            Question.of("kubernetes.pod_logs"),
        ):
            assert live.answer(q).unavailable == (
                '403 Forbidden: pods is forbidden: User "system:serviceaccount:gpubot:gpubot" '
                'cannot list resource "pods" in API group "" at the cluster scope'
            )


def test_logs_forbidden_is_unavailable_not_empty(tmp_path: Path) -> None:
    with KubeApiEmulator(_copy(tmp_path, "logs")) as api:
        got = source_for(api, tmp_path).answer(Question.of("kubernetes.pod_logs"))
        assert got.unavailable is not None and "pods/log" in got.unavailable


def test_probe_timeout_is_a_result_and_refused_probes_are_unavailable(tmp_path: Path) -> None:
    with KubeApiEmulator(HEALTHY) as api:
        api.fault("GET .*/services/.*/proxy/", Fault("timeout", hang=5))
        got = source_for(api, tmp_path, timeout=0.5).answer(
            Question.of("kubernetes.service_probes")
        )
        [probe] = got.data
        assert probe["status"] is None and probe["body"] == "timeout after 0.5s"
        assert 450 <= probe["latency_ms"] < 2000
    with KubeApiEmulator(_copy(tmp_path, "probes")) as api:
        got = source_for(api, tmp_path).answer(Question.of("kubernetes.service_probes"))
        assert got.unavailable == "every service probe was refused (1 services)"


def test_metrics_endpoint_down_is_no_samples_for_that_pod(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "kubernetes/metrics/default/workspace-llama-3-1-8b-0.prom").unlink()
    (root / "kubernetes/metrics/default/other.prom").write_text("")  # keep the folder
    with KubeApiEmulator(root) as api:
        got = source_for(api, tmp_path).answer(Question.of("kubernetes.pod_metrics"))
        assert got.data == [
            {"namespace": "default", "pod": "workspace-llama-3-1-8b-0", "samples": None}
        ]
        assert len(api.seen(path=".*/proxy/metrics")) == 1, "a backend 503 is not retried"


def test_bad_kubeconfig_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    from bot.sources.base import BadInput

    missing = tmp_path / "nope.yaml"
    with pytest.raises(BadInput, match=f"^{missing}: cannot load Kubernetes configuration"):
        KubeSource.from_kubeconfig(str(missing), None)
    with KubeApiEmulator(HEALTHY) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        with pytest.raises(BadInput, match="cannot load Kubernetes configuration"):
            KubeSource.from_kubeconfig(str(kubeconfig), "no-such-context")
        live = KubeSource.from_kubeconfig(str(kubeconfig), None)
        assert live.cluster.name == "emulator" and live.kind == "live"


def test_now_follows_gpubot_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    monkeypatch.setenv("GPUBOT_NOW", "2026-11-27T07:40:00Z")
    assert KubeSource(client.ApiClient()).now().isoformat() == "2026-11-27T07:40:00+00:00"
