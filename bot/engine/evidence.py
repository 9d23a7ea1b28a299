"""One fetch per distinct question per run, however many playbooks ask it (single flight), and
one fetch per question for concurrent runs of the same source while the answer is fresh.

`EvidenceCache` is a run's view: each question is answered once and every playbook of the run
sees that same answer. `SharedEvidence` sits under the runs of one source: twenty people
typing `/gpu diagnose` into one incident channel start twenty runs, and each question goes to
the cluster once; a run that starts after the answer has aged past `fresh_seconds` asks again,
and so does a run asked for `fresh` evidence (the re-check after a fix).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from bot.model.evidence import Answer, Question
from bot.sources.base import Source

log = logging.getLogger("gpubot.evidence")


def _ask(source: Source, question: Question) -> Answer:
    try:
        return source.answer(question)
    except Exception as exc:  # a source bug must not sink the diagnosis
        return Answer.missing(question, f"{type(exc).__name__}: {exc}")


class SharedEvidence:
    def __init__(self, source: Source, *, fresh_seconds: float = 10.0) -> None:
        self.source = source
        self.fresh_seconds = fresh_seconds
        self.fetches = 0
        self._lock = threading.Lock()
        # question -> (monotonic time the answer arrived, or None while in flight; the answer)
        self._flights: dict[Question, tuple[float | None, Future[Answer]]] = {}
        self._generation = self._source_generation()

    def _source_generation(self) -> int:
        """The source's `forget()` count (bot/sources/live.py): the fix guard forgets before
        its re-check, and no answer read before that may serve it, in flight or not."""
        return int(getattr(self.source, "generation", 0))

    def answer(self, question: Question) -> Answer:
        with self._lock:
            if self._generation != self._source_generation():
                self._flights.clear()
                self._generation = self._source_generation()
            self._drop_stale()
            held = self._flights.get(question)
            owner = held is None
            if owner:
                future: Future[Answer] = Future()
                self._flights[question] = (None, future)
                self.fetches += 1
            else:
                future = held[1]
        if owner:
            answer = _ask(self.source, question)
            with self._lock:
                if self._flights.get(question, (None, None))[1] is future:
                    self._flights[question] = (time.monotonic(), future)
            future.set_result(answer)
        return future.result()

    def forget(self) -> None:
        """Answers already held are not handed out again (e.g. after a fix was applied)."""
        with self._lock:
            self._flights.clear()

    def _drop_stale(self) -> None:
        now = time.monotonic()
        stale = [
            q
            for q, (arrived, _) in self._flights.items()
            if arrived is not None and now - arrived >= self.fresh_seconds
        ]
        for q in stale:
            del self._flights[q]


class EvidenceCache:
    def __init__(
        self,
        source: Source,
        *,
        on_fetch: Callable[[Question], None] | None = None,
        shared: SharedEvidence | None = None,
    ) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._futures: dict[Question, Future[Answer]] = {}
        self._on_fetch = on_fetch
        self._shared = shared
        self.fetches = 0

    def get(self, question: Question) -> Answer:
        with self._lock:
            future = self._futures.get(question)
            owner = future is None
            if owner:
                future = Future()
                self._futures[question] = future
                self.fetches += 1
        assert future is not None
        if owner:
            if self._on_fetch:
                self._on_fetch(question)
            started = time.monotonic()
            if self._shared is not None:
                answer = self._shared.answer(question)
            else:
                answer = _ask(self.source, question)
            _log_fetch(answer, time.monotonic() - started)
            future.set_result(answer)
        return future.result()


def _log_fetch(answer: Answer, seconds: float) -> None:
    """One line per fetched fact; the request id ties it to the command that asked."""
    outcome = "ok" if answer.available else "unavailable"
    log.info(
        "evidence %s: %s in %d ms",
        answer.source,
        outcome if answer.available else f"{outcome}: {answer.unavailable}",
        round(seconds * 1000),
        extra={
            "evidence": answer.source,
            "params": dict(answer.question.params),
            "outcome": outcome,
            "reason": answer.unavailable,
            "duration_ms": round(seconds * 1000),
        },
    )
