"""Slack ack latency while triages run: `gpubot serve --http --config` in its own process (as
deployed), the fake Slack Web API from tests/emulators, and signed slash commands.

An ack is the time from sending a signed `/gpu` slash command to Bolt's HTTP answer (Slack
gives up after 3 s). Each wave sends five `/gpu diagnose` at once, which start five triages
against the emulated cluster, then `/gpu help` every 50 ms until the bot's queue is empty
again; every slash command of the wave counts. Waves repeat until there are enough samples.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests import slack_harness as slack
from tests.emulators.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
QUEUE_METRIC = "gpubot_diagnosis_queue_depth"


@dataclass
class Acks:
    samples_ms: list[float]
    waves: int
    triages: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def _queue_depth(url: str) -> float:
    for line in _get(f"{url}/metrics").splitlines():
        if line.startswith(QUEUE_METRIC + " "):
            return float(line.split()[1])
    return 0.0


def _ack_ms(url: str, text: str) -> float:
    started = time.monotonic()
    status, body = slack.slash(url, text)
    if status != 200:
        raise RuntimeError(f"/gpu {text} answered {status}: {body[:200]}")
    return (time.monotonic() - started) * 1000


def _serve(config: Path, env: dict[str, str], fake: FakeSlack, work: Path) -> tuple[Any, str]:
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GPUBOT_"))}
    proc_env = {
        **clean,
        **env,
        "SLACK_BOT_TOKEN": slack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack.SIGNING_SECRET,
        "GPUBOT_SLACK_API_URL": fake.url,
        "GPUBOT_DATABASE_URL": f"sqlite:///{work / 'ack-store.db'}",
    }
    argv = [sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--config", str(config)]
    # Its log goes to a file: a pipe nobody reads fills up (64 KB of INFO lines) and blocks
    # the bot mid-request.
    log = work / "gpubot-serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            argv, env=proc_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink
        )
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while True:
        try:
            _get(f"{url}/healthz")
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                err = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gpubot serve did not start: {err}") from None
            time.sleep(0.2)


def measure(
    config: Path, env: dict[str, str], work: Path, *, triages: int = 5, samples: int = 100
) -> Acks:
    """Ack latencies of every slash command sent while `triages` triages run."""
    doc = yaml.safe_load(config.read_text())
    doc["slack"] = {"workers": triages, "queue": triages}
    served = work / "gpubot-serve.yaml"
    served.write_text(yaml.safe_dump(doc))
    out: list[float] = []
    waves = 0
    with FakeSlack() as fake:
        proc, url = _serve(served, env, fake, work)
        try:
            deadline = time.monotonic() + 300
            while (len(out) < samples or not waves) and time.monotonic() < deadline:
                out += _wave(url, triages)
                waves += 1
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return Acks(out, waves, triages)


def _wave(url: str, triages: int) -> list[float]:
    acks: list[float] = []
    lock = threading.Lock()

    def diagnose() -> None:
        ms = _ack_ms(url, "diagnose")
        with lock:
            acks.append(ms)

    starters = [threading.Thread(target=diagnose) for _ in range(triages)]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    while _queue_depth(url) > 0:
        acks.append(_ack_ms(url, "help"))
        time.sleep(0.05)
    return acks
