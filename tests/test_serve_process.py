"""`gpubot serve --http --snapshot DIR` as a real process, driven like Slack would drive it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack

QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path):
    with FakeSlack() as fake:
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GPUBOT_"))},
            "SLACK_BOT_TOKEN": h.BOT_TOKEN,
            "SLACK_SIGNING_SECRET": h.SIGNING_SECRET,
            "GPUBOT_SLACK_API_URL": fake.url,
            "GPUBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
            "GPUBOT_WEBHOOK_SECRET": h.WEBHOOK_SECRET,
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--http",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--snapshot",
                str(QUOTA),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise AssertionError(proc.communicate()[1][-2000:]) from None
                time.sleep(0.2)
        try:
            yield url, fake, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_slash_command_against_the_served_process(served, run_cli) -> None:
    url, fake, _ = served
    started = time.monotonic()
    status, body = h.slash(url, "diagnose", response_url=fake.response_url)
    acked_in = time.monotonic() - started
    assert status == 200 and "Diagnosing aks-inference" in body
    assert acked_in < 3.0, f"Slack gives up after 3 s; the ack took {acked_in:.2f} s"
    calls = fake.wait_for(
        lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs)
    )
    summary = next(c for c in calls if c.method == "chat.update" and c.args.get("blocks"))
    _, out, _ = run_cli("diagnose", "--snapshot", str(QUOTA), "--format", "json")
    expected = {f["playbook"] for f in json.loads(out)["findings"] if f["verdict"] == "confirmed"}
    shown = {
        b["block_id"].split(":")[1]
        for b in summary.args["blocks"]
        if b.get("block_id", "").count(":") == 1
        and b["block_id"].startswith("finding:")
        and "🔴" in json.dumps(b, ensure_ascii=False)
    }
    assert expected and shown == expected
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        exposed = resp.read().decode()
    assert "gpubot_diagnosis_queue_depth" in exposed
    assert 'gpubot_diagnoses_total{outcome="confirmed",trigger="slash"} 1.0' in exposed
    assert 'gpubot_findings_total{playbook="quota-exhausted",verdict="confirmed"} 1.0' in exposed


def test_serve_refuses_to_start_without_tokens(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GPUBOT_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--http", "--snapshot", str(QUOTA)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (
        proc.returncode == 2 and "SLACK_BOT_TOKEN" in proc.stderr and "Traceback" not in proc.stderr
    )
