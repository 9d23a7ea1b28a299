"""Single flight across runs: concurrent triages of one cluster ask the cluster once per
question while the answers are fresh; after the source's forget() (the fix guard's re-check)
or in a `fresh` run every question is asked again. And
the Kubernetes source's fan-out never has more requests in flight than its bound."""

from __future__ import annotations

import argparse
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
import trustme
import yaml

from bot.cli.wiring import diagnoser_for
from bot.engine.evidence import EvidenceCache, SharedEvidence
from bot.engine.loader import load_catalog
from bot.engine.service import Diagnoser
from bot.render.json_out import document
from bot.sources.kube_fanout import FanOut
from bot.sources.snapshot import SnapshotSource
from tests.conftest import SCENARIOS
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator
from tests.test_engine import CountingSource

SNAPSHOT = SCENARIOS / "inference-crashloop" / "confirmed"
RUNS = 20


def _calls(api: KubeApiEmulator) -> Counter[tuple[str, str]]:
    return Counter((r.path, json.dumps(r.query, sort_keys=True)) for r in api.requests)


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Diagnoser of the emulated cluster, as `gpubot serve` builds it from configuration."""
    cluster = yaml.safe_load((SNAPSHOT / "snapshot.yaml").read_text())["cluster"]
    config = tmp_path / "gpubot.yaml"
    config.write_text(yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}]}))
    with (
        KubeApiEmulator(SNAPSHOT, missing_crd_status=403, latency_cap=0.2) as kube,
        AzureEmulator(SNAPSHOT, token="shared-evidence-token", ca=trustme.CA()) as azure,
    ):
        kube.latency(".*", 0.05)  # every call takes a while, so the runs overlap in flight
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        for name, value in azure.env().items():
            monkeypatch.setenv(name, value)
        yield diagnoser_for(argparse.Namespace(config=config, cluster=None)), kube, azure


def test_twenty_concurrent_triages_of_one_cluster_make_each_call_once(live) -> None:
    diagnoser, kube, azure = live
    start = threading.Barrier(RUNS)
    results: list[dict] = []
    lock = threading.Lock()

    def triage() -> None:
        start.wait(timeout=30)
        doc = document(diagnoser.run(None))
        with lock:
            results.append(doc)

    threads = [threading.Thread(target=triage) for _ in range(RUNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == RUNS
    assert all(r == results[0] for r in results), "every run gives the same diagnosis"
    calls = _calls(kube)
    lists = {k: n for k, n in calls.items() if not k[0].endswith(("/log", "/metrics"))}
    assert lists and max(lists.values()) == 1, [k for k, n in lists.items() if n > 1]
    assert max(calls.values()) == 1, "logs, metrics and probes once too"
    arm = Counter((r.path, json.dumps(r.query, sort_keys=True)) for r in azure.requests)
    assert arm and max(arm.values()) == 1

    diagnoser.sources(None).forget()  # what the fix guard does before its re-check
    diagnoser.run(None)
    again = _calls(kube)
    assert all(again[k] == 2 for k in calls), "after forget() every question is asked anew"


def test_a_run_after_the_answers_aged_asks_again() -> None:
    source = CountingSource(SnapshotSource(SNAPSHOT))
    catalog = load_catalog()
    quick = Diagnoser(catalog, lambda _n: source, ["x"], share_seconds=0)
    quick.run(None)
    first = sum(source.calls.values())
    quick.run(None)
    assert sum(source.calls.values()) == 2 * first, "share_seconds=0: only in-flight fetches"

    shared = CountingSource(SnapshotSource(SNAPSHOT))
    fresh = Diagnoser(catalog, lambda _n: shared, ["x"], share_seconds=600)
    fresh.run(None)
    fresh.run(None)
    assert all(n == 1 for n in shared.calls.values()), "within share_seconds: one fetch"
    fresh.run(None, fresh=True)
    assert all(n == 2 for n in shared.calls.values()), "a fresh run asks again"


def test_one_run_reads_each_question_once_even_when_shared_answers_expire() -> None:
    """Within a run every playbook sees the same answer, whatever the shared layer does."""
    source = CountingSource(SnapshotSource(SNAPSHOT))
    shared = SharedEvidence(source, fresh_seconds=0)
    run = EvidenceCache(source, shared=shared)
    question = next(iter(load_catalog().playbooks["pod-pending"].questions.values()))
    first = run.get(question)
    assert run.get(question) is first and source.calls[question] == 1


def test_fan_out_never_exceeds_its_bound() -> None:
    fanout, lock = FanOut(limit=4), threading.Lock()
    in_flight, peak = [0], [0]
    four = threading.Barrier(4)

    def call(i: int) -> int:
        with fanout.slot():
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            if i < 4:
                four.wait(timeout=30)  # the first four must be in flight together
            with lock:
                in_flight[0] -= 1
        return i * i

    assert fanout.map(call, range(40)) == [i * i for i in range(40)]
    assert peak[0] == 4 and not four.broken
