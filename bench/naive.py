"""The naive baseline, run in its own process: every question asked one after another, no
cache, no overlap, unselective. Each Kubernetes question first lists nodes and pods across the
whole cluster through the kubernetes client's model objects (what a script that does not
narrow its calls does), then asks its own call; Azure and Log Analytics questions go straight
to the live source. Prints {"span": seconds, "first": monotonic of the first call}.

    python -m bench.naive CONFIG QUESTIONS.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(config: str, questions_file: str) -> None:
    from kubernetes import client
    from kubernetes import config as kconfig

    from bot.model.evidence import Question
    from bot.settings import load_config
    from bot.sources.live import open_live

    questions = [
        Question(kind=q["kind"], params=tuple((k, v) for k, v in q["params"]))
        for q in json.loads(Path(questions_file).read_text(encoding="utf-8"))
    ]
    cluster = load_config(config).cluster(None)
    first = time.monotonic()
    conf = client.Configuration()
    kconfig.load_kube_config(client_configuration=conf)
    conf.client_side_validation = False  # snapshot nodes omit some nodeInfo fields
    core = client.CoreV1Api(client.ApiClient(conf))
    for q in questions:
        if q.kind.startswith("kubernetes."):
            core.list_node()
            core.list_pod_for_all_namespaces()
        open_live(cluster).answer(q)  # a fresh source: nothing reused between questions
    print(json.dumps({"span": time.monotonic() - first, "first": first}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
