"""The benchmark: gpubot against the physical limit and a naive baseline, in one run.

    python -m bench.run                       # 5,000 nodes, 150,000 pods, 200 GPU nodes
    python -m bench.run --nodes 20 --pods 200 --gpu-nodes 4 --events 50 --k8s-ms 0 ...

Latency is injected per call into the loopback emulators (Kubernetes 50 ms, ARM 150 ms, Log
Analytics 800 ms by default). Columns, for gpubot and the naive baseline side by side:

- critical path: the slowest single required call, each distinct question timed on its own;
- triage span: first evidence request to finished diagnosis (in process, warm, as in Slack);
- start-up: CLI process start to its first request seen at an emulator;
- calls / questions: API requests the emulators saw vs distinct evidence questions;
- peak RSS: of the CLI process (os.wait4), so the emulators are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trustme
import yaml

from bench.cluster import synthetic_cluster
from tests.emulators.azure_api import ROUTES, AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-not-a-secret"
COLUMNS = (
    "run",
    "critical_path_s",
    "triage_span_s",
    "ratio",
    "startup_s",
    "api_calls",
    "distinct_calls",
    "questions",
    "peak_rss_mb",
)


@dataclass
class Latency:
    kube: float = 0.05
    arm: float = 0.15
    logs: float = 0.8


@dataclass
class Row:
    run: str
    critical_path_s: float
    triage_span_s: float
    ratio: float
    startup_s: float | None
    api_calls: int
    distinct_calls: int
    questions: int
    peak_rss_mb: float


@dataclass
class Report:
    cluster: dict[str, int]
    latency: dict[str, float]
    rows: list[Row] = field(default_factory=list)
    per_question_s: dict[str, float] = field(default_factory=dict)
    findings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": targets(self)}


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


def _reset(kube: KubeApiEmulator, azure: AzureEmulator, stamps: _Stamps) -> None:
    kube.requests.clear()
    azure.requests.clear()
    stamps.times.clear()


def _first(kube: KubeApiEmulator, stamps: _Stamps) -> float:
    return min([r.at for r in kube.requests] + stamps.times)


class _Counting:
    """The live source, recording the distinct questions it is asked."""

    def __init__(self, source: Any) -> None:
        self.source, self.asked = source, []
        self._lock = threading.Lock()

    def answer(self, question: Any) -> Any:
        with self._lock:
            self.asked.append(question)
        return self.source.answer(question)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def _spawn_rss(
    argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 1, 2)
) -> tuple[float, str, float]:
    """Like _spawn but reaping the child ourselves so its own peak RSS is known."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read()
        if proc.returncode not in ok:
            raise RuntimeError(f"{argv[1:4]} exited {proc.returncode}: {err.read()[-2000:]}")
    return start, text, usage.ru_maxrss / 1024


def run(
    nodes: int = 5_000,
    pods: int = 150_000,
    gpu_nodes: int = 200,
    events: int = 20_000,
    latency: Latency | None = None,
    work: Path | None = None,
) -> Report:
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
            report.rows, report.per_question_s, report.findings = _measure(
                kube, azure, stamps, config, env, work
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
        tmp.cleanup()
    return report


def _measure(kube, azure, stamps, config, env, work):
    from bot.cli.wiring import diagnoser_for
    from bot.sources.live import open_live

    diagnoser = diagnoser_for(argparse.Namespace(config=config, cluster=None))
    opened = diagnoser.sources
    counting: list[_Counting] = []

    def sources(name: str | None) -> Any:
        counting.append(_Counting(opened(name)))
        return counting[-1]

    diagnoser.sources = sources
    diagnoser.run(None)  # warm: imports, clients, connections (Slack's process is warm)
    _reset(kube, azure, stamps)
    done = diagnoser.run(None)
    end = time.monotonic()
    span = end - _first(kube, stamps)
    calls, distinct = _requests(kube, azure), _distinct(kube, azure)
    questions = list(dict.fromkeys(counting[-1].asked))

    # the critical path: each distinct question alone, through a fresh source
    from bot.settings import load_config

    cluster = load_config(str(config)).cluster(None)
    per_question: dict[str, float] = {}
    for q in questions:
        source = open_live(cluster)
        t = time.monotonic()
        source.answer(q)
        per_question[f"{q.label()} {dict(q.params)}"] = round(time.monotonic() - t, 3)
    critical = max(per_question.values(), default=0.0)

    # the CLI: start-up and peak RSS of a real `gpubot diagnose --config`
    _reset(kube, azure, stamps)
    argv = [sys.executable, "-m", "bot", "diagnose", "--config", str(config), "--format", "json"]
    start, _, rss = _spawn_rss(argv, env)
    startup = _first(kube, stamps) - start

    # the naive baseline, in its own process
    qfile = work / "questions.json"
    qfile.write_text(json.dumps([{"kind": q.kind, "params": list(q.params)} for q in questions]))
    _reset(kube, azure, stamps)
    argv = [sys.executable, "-m", "bench.naive", str(config), str(qfile)]
    nstart, out, nrss = _spawn_rss(argv, env, ok=(0,))
    naive = json.loads(out.strip().splitlines()[-1])
    naive_calls, naive_distinct = _requests(kube, azure), _distinct(kube, azure)
    rows = [
        Row(
            "gpubot",
            critical,
            span,
            span / critical if critical else 0.0,
            startup,
            calls,
            distinct,
            len(questions),
            rss,
        ),
        Row(
            "naive",
            critical,
            naive["span"],
            naive["span"] / critical if critical else 0.0,
            naive["first"] - nstart,
            naive_calls,
            naive_distinct,
            len(questions),
            nrss,
        ),
    ]
    return rows, per_question, len(done.findings)


def targets(report: Report) -> list[dict[str, Any]]:
    """The issue 7 targets, met or missed, for the gpubot row."""
    g = next(r for r in report.rows if r.run == "gpubot")
    big = report.cluster["pods"] >= 150_000
    out = [
        ("triage span <= 1.25x critical path", g.ratio, 1.25),
        ("CLI start-up <= 1.5 s", g.startup_s, 1.5),
        ("API calls == distinct questions", g.api_calls, g.questions),
        ("no call repeated (API calls == distinct calls)", g.api_calls, g.distinct_calls),
    ]
    if big:
        out += [
            ("large cluster: triage <= 1.5x critical path", g.ratio, 1.5),
            ("large cluster: peak RSS <= 300 MB", g.peak_rss_mb, 300.0),
        ]
    return [
        {
            "target": name,
            "value": value,
            "limit": limit,
            "met": value is not None and value <= limit,
        }
        for name, value, limit in out
    ]


def table(report: Report) -> str:
    lines = [
        f"cluster {report.cluster}  latency {report.latency}",
        "  ".join(f"{c:>15}" for c in COLUMNS),
    ]
    for row in report.rows:
        cells = []
        for c in COLUMNS:
            v = getattr(row, c)
            cells.append(f"{v:>15.3f}" if isinstance(v, float) else f"{v!s:>15}")
        lines.append("  ".join(cells))
    lines.append("")
    for t in targets(report):
        mark = "MET   " if t["met"] else "MISSED"
        value = t["value"] if not isinstance(t["value"], float) else round(t["value"], 3)
        lines.append(f"{mark} {t['target']}: {value} (limit {t['limit']})")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", type=int, default=5_000)
    ap.add_argument("--pods", type=int, default=150_000)
    ap.add_argument("--gpu-nodes", type=int, default=200)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--k8s-ms", type=float, default=50)
    ap.add_argument("--arm-ms", type=float, default=150)
    ap.add_argument("--logs-ms", type=float, default=800)
    ap.add_argument("--json", type=Path, help="also write the report here")
    a = ap.parse_args()
    latency = Latency(a.k8s_ms / 1000, a.arm_ms / 1000, a.logs_ms / 1000)
    report = run(a.nodes, a.pods, a.gpu_nodes, a.events, latency)
    print(table(report))
    print("\nslowest questions alone (s):")
    for k, v in sorted(report.per_question_s.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {v:7.3f}  {k}")
    if a.json:
        a.json.write_text(json.dumps(report.to_dict(), indent=2))


if __name__ == "__main__":
    main()
