"""The warm triage and the critical path, measured in their own process, as `gpubot serve` runs
them: the emulators stay in the benchmark's process, so serving the cluster never competes
with gpubot for one interpreter lock (a real API server is another machine).

    python -m bench.triage CONFIG

Steps, each started by a line on stdin and answered by a JSON line on stdout, so the
benchmark can clear the emulators' records in between:
1. warm-up triage (imports, clients, connections), then `{"step": "warm"}`;
2. the measured triage: `{"step": "triage", "end": monotonic, "asked": ..., "findings": n}`;
3. each distinct question alone through a fresh live source: `{"step": "alone", ...}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from typing import Any


class Counting:
    """The live source, recording the questions it is asked."""

    def __init__(self, source: Any) -> None:
        self.source, self.asked = source, []
        self._lock = threading.Lock()

    def answer(self, question: Any) -> Any:
        with self._lock:
            self.asked.append(question)
        return self.source.answer(question)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def _say(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)
    sys.stdin.readline()  # the benchmark's go-ahead for the next step


def main(config: str) -> None:
    from bot.cli.wiring import diagnoser_for
    from bot.settings import load_config
    from bot.sources.live import open_live

    diagnoser = diagnoser_for(argparse.Namespace(config=config, cluster=None))
    opened = diagnoser.sources
    counting: list[Counting] = []

    def sources(name: str | None) -> Any:
        counting.append(Counting(opened(name)))
        return counting[-1]

    diagnoser.sources = sources
    diagnoser.run(None)
    opened(None).forget()  # no list the warm-up fetched is reused
    _say({"step": "warm"})

    done = diagnoser.run(None)
    end = time.monotonic()
    asked = Counter(counting[-1].asked)
    questions = list(asked)
    _say(
        {
            "step": "triage",
            "end": end,
            "most_asked": max(asked.values(), default=0),
            "questions": [{"kind": q.kind, "params": list(q.params)} for q in questions],
            "findings": len(done.findings),
        }
    )

    cluster = load_config(config).cluster(None)
    alone: dict[str, float] = {}
    for q in questions:
        source = open_live(cluster)
        started = time.monotonic()
        source.answer(q)
        alone[f"{q.label()} {dict(q.params)}"] = round(time.monotonic() - started, 3)
    print(json.dumps({"step": "alone", "per_question_s": alone}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
