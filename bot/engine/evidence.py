"""One fetch per distinct question per run, however many playbooks ask it (single flight)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from bot.model.evidence import Answer, Question
from bot.sources.base import Source

log = logging.getLogger("gpubot.evidence")


class EvidenceCache:
    def __init__(
        self, source: Source, *, on_fetch: Callable[[Question], None] | None = None
    ) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._futures: dict[Question, Future[Answer]] = {}
        self._on_fetch = on_fetch
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
            try:
                answer = self.source.answer(question)
            except Exception as exc:  # a source bug must not sink the diagnosis
                answer = Answer.missing(question, f"{type(exc).__name__}: {exc}")
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
