"""Restart mid-diagnosis (issue 8): `gpubot serve` is SIGKILLed while a `/gpu diagnose` and an
Alertmanager webhook triage are running, and a new `gpubot serve` on the same store finishes
both, in the messages already in the channel, exactly once.

Both processes run live against the loopback emulators. The first is held mid-run honestly:
the Kubernetes emulator stalls every read, so the diagnoses sit between their progress post
and their summary until the process is killed. The emulator then answers normally for the
second process. One kill and restart serve both tests (module fixture) to keep them fast."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from bot.store.db import Store
from bot.store.jobs import Job
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators import kube_api
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator
from tests.emulators.slack_api import Call, FakeSlack

SCENARIO = ROOT / "tests/scenarios/quota-exhausted/confirmed"
HANG_GUARD = 90.0  # about hanging, not speed
WEBHOOK = {
    "version": "4",
    "status": "firing",
    "receiver": "gpubot",
    "groupKey": '{}:{alertname="KaitoWorkspaceNotReady"}',
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "KaitoWorkspaceNotReady",
                "namespace": "default",
                "workspace": "workspace-llama-3-1-8b",
            },
            "annotations": {"summary": "ResourceReady False for 10m"},
            "startsAt": "2026-11-27T07:30:00Z",
            "fingerprint": "resume-1",
        }
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, predicate, timeout: float = HANG_GUARD) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Outcome:
    calls: list[Call]
    jobs: dict[str, Job]  # by trigger, as the store holds them after the restart
    first_owner: dict[str, str]
    progress_ts: dict[str, str]  # the progress message each job had when the process died
    alert_thread: Any
    store_rows: list[str]


def _serve(env: dict[str, str], config: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1"),
            *("--port", str(port), "--config", str(config), "--log-format", "text"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("a"),
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    _wait("gpubot serve to answer /healthz", healthy)
    return proc, url


def _jobs(store: Store) -> dict[str, Job]:
    from sqlalchemy import select

    from bot.store import tables

    with store.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(tables.diagnosis_jobs.c.id))]
    jobs = [store.jobs.get(i) for i in ids]
    return {j.spec.trigger: j for j in jobs if j is not None}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Outcome:
    tmp = tmp_path_factory.mktemp("resume")
    log = tmp / "serve.log"
    db = f"sqlite:///{tmp / 'store.db'}"
    with (
        KubeApiEmulator(SCENARIO, latency_cap=0.2) as kube,
        AzureEmulator(SCENARIO, token="resume-azure-token", ca=trustme.CA()) as azure,
        FakeSlack() as fake,
    ):
        cluster = yaml.safe_load((SCENARIO / "snapshot.yaml").read_text())["cluster"]
        config = tmp / "gpubot.yaml"
        slack = {"alert_channel": "CALERTS", "job_heartbeat_seconds": 0.5}
        slack["job_lease_seconds"] = 2
        config.write_text(
            yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}], "slack": slack})
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GPUBOT_"))},
            **azure.env(),
            "KUBECONFIG": str(kube.write_kubeconfig(tmp / "kubeconfig")),
            "SLACK_BOT_TOKEN": h.BOT_TOKEN,
            "SLACK_SIGNING_SECRET": h.SIGNING_SECRET,
            "GPUBOT_SLACK_API_URL": fake.url,
            "GPUBOT_DATABASE_URL": db,
            "GPUBOT_WEBHOOK_SECRET": h.WEBHOOK_SECRET,
        }
        # Hold the first process mid-run: every Kubernetes read stalls until it is killed.
        kube.fault(r"^GET ", kube_api.Fault("timeout", hang=HANG_GUARD))
        first, url = _serve(env, config, log)
        try:
            status, _ = h.slash(url, "diagnose", response_url=fake.response_url)
            assert status == 200
            request = urllib.request.Request(
                f"{url}/alerts/alertmanager",
                data=json.dumps(WEBHOOK).encode(),
                method="POST",
                headers={
                    "Authorization": f"Bearer {h.WEBHOOK_SECRET}",
                    "Content-Type": "application/json",
                },
            )
            with urllib.request.urlopen(request, timeout=30) as resp:
                assert resp.status == 202
            store = Store.open(db, migrate=False)
            # mid-run: both progress messages are in Slack and in the job rows, and the
            # diagnoses are waiting on the cluster

            def mid_run() -> dict[str, Job] | None:
                jobs = _jobs(store)
                started = all(j.progress_ts and j.status == "running" for j in jobs.values())
                both = jobs.keys() == {"slash", "webhook"}
                return jobs if both and started and kube.requests else None

            held = _wait("both jobs to be mid-run", mid_run)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        kube.clear()  # the cluster answers again
        assert not any(c.method == "chat.update" and c.args.get("blocks") for c in fake.calls)
        second, _ = _serve(env, config, log)
        try:

            def finished() -> dict[str, Job] | None:
                jobs = _jobs(store)
                return jobs if all(j.status == "done" for j in jobs.values()) else None

            done = _wait("the resumed jobs to finish", finished)
            # the resume note is posted right after the job is marked done
            fake.wait_for(
                lambda cs: sum("re-ran it" in str(c.args.get("text")) for c in cs) >= 2,
                timeout=HANG_GUARD,
            )
        finally:
            second.terminate()
            second.wait(timeout=30)
        from sqlalchemy import MetaData, select

        meta = MetaData()
        meta.reflect(store.engine)
        with store.engine.connect() as conn:
            rows = [str(r) for t in meta.sorted_tables for r in conn.execute(select(t))]
        return Outcome(
            calls=list(fake.calls),
            jobs=done,
            first_owner={k: j.owner for k, j in held.items()},
            progress_ts={k: str(j.progress_ts) for k, j in held.items()},
            alert_thread=store.alert_thread(done["webhook"].spec.alert_fingerprint or ""),
            store_rows=rows,
        )


def _summaries(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "chat.update" and c.args.get("blocks")]


def test_a_killed_slash_diagnosis_is_finished_in_its_progress_message(outcome) -> None:
    job, ts = outcome.jobs["slash"], outcome.progress_ts["slash"]
    assert job.status == "done" and job.attempts == 2
    assert job.owner != outcome.first_owner["slash"], "a new process finished it"
    in_channel = [c for c in outcome.calls if c.args.get("channel") == "CINFRA"]
    # one progress message, ever: the restart updated it instead of posting another
    top_level = [
        c for c in in_channel if c.method == "chat.postMessage" and not c.args.get("thread_ts")
    ]
    assert len(top_level) == 1 and top_level[0].reply["ts"] == ts
    summaries = _summaries(in_channel)
    assert len(summaries) == 1 and summaries[0].args["ts"] == ts
    blocks = json.dumps(summaries[0].args["blocks"], ensure_ascii=False)
    assert "finding:quota-exhausted" in blocks and "🔴" in blocks
    progress = [c for c in in_channel if c.method == "chat.update" and c.args["ts"] == ts]
    assert any("gpubot restarted" in c.args.get("text", "") for c in progress[:-1])
    notes = [c for c in in_channel if "re-ran it" in str(c.args.get("text"))]
    assert len(notes) == 1 and notes[0].args["thread_ts"] == ts
    assert "<@U123>" in notes[0].args["text"], "the requester is told (no response_url kept)"


def test_a_killed_webhook_triage_is_finished_once_in_the_same_alert_thread(outcome) -> None:
    job, ts = outcome.jobs["webhook"], outcome.progress_ts["webhook"]
    assert job.status == "done" and job.attempts == 2
    in_channel = [c for c in outcome.calls if c.args.get("channel") == "CALERTS"]
    heads = [
        c for c in in_channel if c.method == "chat.postMessage" and not c.args.get("thread_ts")
    ]
    assert len(heads) == 1 and "firing" in heads[0].args["text"]
    thread = heads[0].reply["ts"]
    assert job.thread_ts == thread
    progress_posts = [
        c for c in in_channel if c.method == "chat.postMessage" and "hourglass" in c.args["text"]
    ]
    assert [c.reply["ts"] for c in progress_posts] == [ts], "no second progress message"
    posts = [c for c in in_channel if c.method == "chat.postMessage" and c is not heads[0]]
    assert posts and all(c.args["thread_ts"] == thread for c in posts)
    summaries = _summaries(in_channel)
    assert len(summaries) == 1 and summaries[0].args["ts"] == ts
    assert not [c for c in in_channel if "fired again" in str(c.args.get("text"))]
    assert outcome.alert_thread.firings == 1 and outcome.alert_thread.thread_ts == thread


def test_job_rows_hold_no_secret_or_response_url(outcome) -> None:
    rows = "\n".join(outcome.store_rows)
    assert outcome.jobs["slash"].id in rows  # the job table was read
    for secret in (h.BOT_TOKEN, h.SIGNING_SECRET, h.WEBHOOK_SECRET, "resume-azure-token"):
        assert secret not in rows
    assert not re.search(r"/response/\d", rows), "a response_url was stored"
