"""The benchmark: gpubot against the physical limit and a naive baseline, in one run.

    python -m bench.run                       # 5,000 nodes, 150,000 pods, 200 GPU nodes
    python -m bench.run --nodes 20 --pods 200 --gpu-nodes 4 --events 50 --k8s-ms 0 ...

Latency is injected per call into the loopback emulators (Kubernetes 50 ms, ARM 150 ms, Log
Analytics 800 ms by default). Columns, for gpubot and the naive baseline side by side:

- critical path: the slowest single required call, each distinct question timed on its own;
- triage span: first evidence request to finished diagnosis, in a warm process of its own
  (bench/triage.py: as `gpubot serve`, with the emulators in another process);
- start-up: CLI process start to its first request seen at an emulator;
- calls / questions: API requests the emulators saw vs distinct evidence questions;
- peak RSS: of the CLI process, through a small launcher (bench/rss.py), so neither the
  emulators nor the benchmark's own pages are counted;
- Slack ack p50/p99 while five triages run (bench/ack.py), and the calls by kind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import trustme
import yaml

from bench import ack
from bench.cluster import synthetic_cluster
from bench.report import COLUMNS, Latency, Report, Row, table, targets
from tests.emulators.azure_api import ROUTES, AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator

__all__ = ["COLUMNS", "Latency", "Report", "Row", "run", "table", "targets"]
ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-not-a-secret"


class _Stamps:
    """Monotonic times of requests at the Azure emulator (its records carry none)."""

    def __init__(self, azure: AzureEmulator) -> None:
        self.times: list[float] = []
        inner = azure.handle

        def handle(*args: Any) -> Any:
            self.times.append(time.monotonic())
            return inner(*args)

        azure.handle = handle  # type: ignore[method-assign]


@contextmanager
def emulated(snapshot: Path, latency: Latency, work: Path):
    ca = trustme.CA()
    with (
        KubeApiEmulator(snapshot, missing_crd_status=403) as kube,
        AzureEmulator(snapshot, token=TOKEN, ca=ca) as azure,
    ):
        if latency.kube:
            kube.latency(".*", latency.kube)
        for _methods, name, _rx in ROUTES:
            azure.slow(name, latency.logs if name == "logs" else latency.arm)
        stamps = _Stamps(azure)
        cluster = yaml.safe_load((snapshot / "snapshot.yaml").read_text())["cluster"]
        config = work / "gpubot.yaml"
        config.write_text(yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}]}))
        env = {"KUBECONFIG": str(kube.write_kubeconfig(work / "kubeconfig")), **azure.env()}
        yield kube, azure, stamps, config, env


def _requests(kube: KubeApiEmulator, azure: AzureEmulator) -> int:
    return len(kube.requests) + len(azure.requests)


def _distinct(kube: KubeApiEmulator, azure: AzureEmulator) -> int:
    """Requests that differ in method, path, query or body: a repeat is a wasted call."""
    seen = {(r.method, r.path, json.dumps(r.query, sort_keys=True)) for r in kube.requests}
    seen |= {
        (r.method, r.path, json.dumps([r.query, r.body], sort_keys=True, default=str))
        for r in azure.requests
    }
    return len(seen)


def _kinds(kube: KubeApiEmulator, azure: AzureEmulator) -> dict[str, int]:
    """Where the calls go: list pages by resource, and the per-pod/per-node/per-service reads."""
    kinds: Counter[str] = Counter()
    for r in kube.requests:
        if r.path.endswith("/log"):
            kinds["pod logs"] += 1
        elif r.path.endswith("/proxy/metrics"):
            kinds["pod metrics"] += 1
        elif "/services/" in r.path and "/proxy" in r.path:
            kinds["service probes"] += 1
        elif r.query.get("fieldSelector", "").startswith("spec.nodeName="):
            kinds["pods per GPU node"] += 1
        else:
            kinds[f"{r.path.rsplit('/', 1)[-1]} pages"] += 1
    for r in azure.requests:
        kinds["log analytics" if "/query" in r.path else "arm"] += 1
    return dict(kinds.most_common())


def _reset(kube: KubeApiEmulator, azure: AzureEmulator, stamps: _Stamps) -> None:
    kube.requests.clear()
    azure.requests.clear()
    stamps.times.clear()


def _first(kube: KubeApiEmulator, stamps: _Stamps) -> float:
    return min([r.at for r in kube.requests] + stamps.times)


def _spawn_rss(
    argv: list[str], env: dict[str, str], work: Path, ok: tuple[int, ...] = (0, 1, 2)
) -> tuple[float, str, float]:
    """(monotonic start, stdout, own peak RSS MB) of `argv`, started through bench.rss."""
    report = work / f"rss-{time.monotonic_ns()}.json"
    launcher = [sys.executable, "-m", "bench.rss", str(report), "--", *argv]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        subprocess.run(launcher, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        text = out.read()
        doc = json.loads(report.read_text()) if report.exists() else {"returncode": -1}
        if doc["returncode"] not in ok:
            raise RuntimeError(f"{argv[1:4]} exited {doc['returncode']}: {err.read()[-2000:]}")
    return doc["start"], text, doc["rss_mb"]


def run(
    nodes: int = 5_000,
    pods: int = 150_000,
    gpu_nodes: int = 200,
    events: int = 20_000,
    latency: Latency | None = None,
    work: Path | None = None,
    *,
    naive: bool = True,
    acks: int = 100,
) -> Report:
    """`naive=False` skips the baseline (at 150,000 pods it needs several GB); `acks=0`
    skips the Slack ack measurement."""
    latency = latency or Latency()
    tmp = tempfile.TemporaryDirectory(prefix="gpubot-bench-")
    work = work or Path(tmp.name)
    snapshot = work / "cluster"
    synthetic_cluster(nodes, pods, gpu_nodes, events).write(snapshot)
    report = Report(
        cluster={"nodes": nodes, "pods": pods, "gpu_nodes": gpu_nodes, "events": events},
        latency=asdict(latency),
    )
    saved = dict(os.environ)
    try:
        with emulated(snapshot, latency, work) as (kube, azure, stamps, config, env):
            os.environ.update(env)
            _measure(report, kube, azure, stamps, config, env, work, naive=naive)
            if acks:
                got = ack.measure(config, env, work, samples=acks)
                report.ack_ms = {
                    "p50": got.percentile(50),
                    "p99": got.percentile(99),
                    "max": max(got.samples_ms),
                    "samples": len(got.samples_ms),
                    "waves": got.waves,
                    "triages": got.triages,
                }
    finally:
        os.environ.clear()
        os.environ.update(saved)
        tmp.cleanup()
    return report


class _Triage:
    """bench/triage.py in its own process: one JSON line per step, a line on stdin for the next."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "bench.triage", str(config)]
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def step(self, go: bool = True) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if go:
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench.triage exited {self.proc.wait()}")
        return dict(json.loads(line))


def _measure(report, kube, azure, stamps, config, env, work, *, naive: bool) -> None:
    child = _Triage(config, env)
    try:
        child.step(go=False)  # warmed up
        _reset(kube, azure, stamps)
        measured = child.step()
        span = measured["end"] - _first(kube, stamps)
        calls, distinct = _requests(kube, azure), _distinct(kube, azure)
        report.calls_by_kind = _kinds(kube, azure)
        report.most_asked, report.findings = measured["most_asked"], measured["findings"]
        questions = measured["questions"]
        report.per_question_s = child.step()["per_question_s"]
    finally:
        child.proc.communicate(timeout=60)
    critical = max(report.per_question_s.values(), default=0.0)

    # the CLI: start-up and peak RSS of a real `gpubot diagnose --config`
    _reset(kube, azure, stamps)
    argv = [sys.executable, "-m", "bot", "diagnose", "--config", str(config), "--format", "json"]
    start, _, rss = _spawn_rss(argv, env, work)
    startup = _first(kube, stamps) - start
    ratio = span / critical if critical else 0.0
    n = len(questions)
    report.rows = [Row("gpubot", critical, span, ratio, startup, calls, distinct, n, rss)]
    if naive:
        report.rows.append(_naive(kube, azure, stamps, config, env, work, questions, critical))


def _naive(kube, azure, stamps, config, env, work, questions, critical) -> Row:
    """The baseline, in its own process."""
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(questions))
    _reset(kube, azure, stamps)
    argv = [sys.executable, "-m", "bench.naive", str(config), str(qfile)]
    nstart, out, nrss = _spawn_rss(argv, env, work, ok=(0,))
    naive = json.loads(out.strip().splitlines()[-1])
    return Row(
        "naive",
        critical,
        naive["span"],
        naive["span"] / critical if critical else 0.0,
        naive["first"] - nstart,
        _requests(kube, azure),
        _distinct(kube, azure),
        len(questions),
        nrss,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5_000)
    ap.add_argument("--pods", type=int, default=150_000)
    ap.add_argument("--gpu-nodes", type=int, default=200)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--k8s-ms", type=float, default=50)
    ap.add_argument("--arm-ms", type=float, default=150)
    ap.add_argument("--logs-ms", type=float, default=800)
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--acks", type=int, default=100, help="Slack ack samples (0: skip)")
    ap.add_argument("--json", type=Path, help="also write the report here")
    a = ap.parse_args()
    latency = Latency(a.k8s_ms / 1000, a.arm_ms / 1000, a.logs_ms / 1000)
    report = run(a.nodes, a.pods, a.gpu_nodes, a.events, latency, naive=not a.no_naive, acks=a.acks)
    print(table(report))
    print("\nslowest questions alone (s):")
    for k, v in sorted(report.per_question_s.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {v:7.3f}  {k}")
    if a.json:
        a.json.write_text(json.dumps(report.to_dict(), indent=2))


if __name__ == "__main__":
    main()
