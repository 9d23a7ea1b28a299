"""The engine: one fetch per distinct question (single flight), concurrency, failure isolation."""

from __future__ import annotations

import threading
from collections import Counter

from bot.engine.evidence import EvidenceCache
from bot.engine.runner import any_of, combine, diagnose
from bot.model.evidence import Answer, Question
from bot.model.verdicts import Verdict
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT

C, R, INC = Verdict.CONFIRMED, Verdict.RULED_OUT, Verdict.INCONCLUSIVE
QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"


class CountingSource:
    def __init__(self, inner, *, barrier: threading.Barrier | None = None) -> None:
        self.inner, self.barrier = inner, barrier
        self.kind, self.cluster = inner.kind, inner.cluster
        self.calls: Counter[Question] = Counter()
        self.lock = threading.Lock()

    def now(self):
        return self.inner.now()

    def answer(self, question: Question) -> Answer:
        with self.lock:
            self.calls[question] += 1
        if self.barrier is not None:
            self.barrier.wait(timeout=30)
        return self.inner.answer(question)


def test_each_distinct_question_is_fetched_once_per_run(catalog) -> None:
    playbooks = catalog.select(catalog.runbook("triage").playbooks)
    distinct = {q for p in playbooks for q in p.questions.values()}
    source = CountingSource(SnapshotSource(QUOTA))
    diagnose(playbooks, source)
    assert set(source.calls) <= distinct
    assert all(n == 1 for n in source.calls.values()), source.calls.most_common(3)


def test_concurrent_askers_share_one_fetch() -> None:
    source = CountingSource(SnapshotSource(QUOTA))
    cache = EvidenceCache(source)
    question = Question.of("kubernetes.list", {"resource": "pods"})
    results: list[Answer] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(question))) for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert source.calls[question] == 1 and len(results) == 20
    assert all(r is results[0] for r in results)


def test_distinct_questions_are_fetched_concurrently(catalog) -> None:
    """The first four fetches must be in flight at once, or the barrier breaks (no timing)."""
    barrier = threading.Barrier(4)
    admitted: list[Question] = []
    lock = threading.Lock()
    inner = SnapshotSource(QUOTA)

    class FirstFourMeet(CountingSource):
        def answer(self, question: Question) -> Answer:
            with lock:
                wait = len(admitted) < 4
                admitted.append(question)
            if wait:
                barrier.wait(timeout=30)
            return inner.answer(question)

    d = diagnose([catalog.playbooks["quota-exhausted"]], FirstFourMeet(inner), workers=8)
    assert not barrier.broken
    assert d.findings[0].verdict == C


def test_a_source_that_raises_makes_only_its_steps_inconclusive(catalog) -> None:
    class Exploding(CountingSource):
        def answer(self, question: Question) -> Answer:
            if question.kind == "azure.usages":
                raise RuntimeError("boom")
            return self.inner.answer(question)

    d = diagnose([catalog.playbooks["quota-exhausted"]], Exploding(SnapshotSource(QUOTA)))
    [finding] = d.findings
    steps = {o.step: o for o in finding.steps}
    assert steps["provisioning-stalled"].verdict == C
    assert steps["family-quota"].verdict == INC
    assert "RuntimeError: boom" in steps["family-quota"].detail
    assert finding.verdict == INC


def test_combination_rules_follow_design() -> None:
    assert any_of([R, C, INC]) == C and any_of([R, R]) == R and any_of([R, INC]) == INC
    assert any_of([]) is None
    assert combine(C, C) == C
    assert combine(C, None) == C  # a playbook with no cause step confirms on its symptom
    assert combine(R, C) == R  # symptom absent
    assert combine(C, R) == R  # cause disproved
    assert combine(C, INC) == INC and combine(INC, C) == INC and combine(None, C) == INC
    assert combine(INC, R) == R  # cause disproved even when the symptom could not be read
