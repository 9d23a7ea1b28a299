"""Issue 8 fault matrix: each source (Kubernetes, ARM, Log Analytics) x each fault (timeout,
429 + Retry-After, 500/503, malformed/truncated body, connection refused), through the real
clients against the loopback emulators. In every cell the diagnosis completes, the steps that
read the failing source are inconclusive and say why, every other step keeps the verdict of the
fault-free run, retries are bounded (counted at the emulator), and nothing hangs."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from bot.engine.loader import load_catalog
from bot.engine.runner import diagnose
from bot.model.verdicts import Verdict
from bot.sources.arm import AzureSource
from bot.sources.azure_common import ClientOptions
from bot.sources.kube import KubeSource
from bot.sources.live import LiveSource
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT
from tests.emulators import azure_api, kube_api
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.azure_routes import HANDLERS
from tests.emulators.kube_api import KubeApiEmulator

SCENARIO = ROOT / "tests/scenarios/healthy"
TOKEN = "fault-matrix-token-canary"
FAST = ClientOptions(connect_timeout=1, read_timeout=0.5, backoff=0.01, backoff_max=0.05)
KUBE_RETRIES = 2
HANG_GUARD = 60.0  # about hanging, not speed: a cell that needs this long is stuck
PREFIX = {"kube": "kubernetes/", "arm": "azure/", "logs": "loganalytics/"}
FAULTS = ["timeout", "429", "5xx", "malformed", "refused"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(kube: KubeApiEmulator, azure: AzureEmulator, tmp: Path, monkeypatch, **override: str):
    kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig")
    if "kube_url" in override:
        text = kubeconfig.read_text().replace(kube.url, override["kube_url"])
        kubeconfig.write_text(text)
    env = {**azure.env(), **{k: v for k, v in override.items() if k.startswith("GPUBOT_")}}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cluster = SnapshotSource(SCENARIO).cluster
    source = LiveSource(
        cluster,
        kube=KubeSource.from_kubeconfig(
            str(kubeconfig),
            None,
            cluster=cluster,
            timeout=0.5,
            retries=KUBE_RETRIES,
            max_retry_sleep=1.0,
        ),
        azure=AzureSource.from_env(cluster, options=FAST),
    )
    catalog = load_catalog()
    playbooks = catalog.select(catalog.runbook("triage").playbooks)
    return diagnose(playbooks, source)


def _steps(diagnosis: Any) -> dict[tuple[str, str], Any]:
    return {(f.playbook, s.step): s for f in diagnosis.findings for s in f.steps}


@pytest.fixture(scope="module")
def baseline(ca, tmp_path_factory) -> tuple[dict[tuple[str, str], Any], int, int]:
    mp = pytest.MonkeyPatch()
    try:
        with (
            KubeApiEmulator(SCENARIO, latency_cap=0.2) as kube,
            AzureEmulator(SCENARIO, token=TOKEN, ca=ca) as azure,
        ):
            diagnosis = _run(kube, azure, tmp_path_factory.mktemp("base"), mp)
            return _steps(diagnosis), len(kube.requests), len(azure.requests)
    finally:
        mp.undo()


ARM_ROUTES = [r for r in HANDLERS if r != "logs"]


def _kube_fault(name: str) -> kube_api.Fault:
    return {
        "timeout": kube_api.Fault("timeout", hang=3),
        "429": kube_api.Fault("status", status=429, retry_after="1"),
        "5xx": kube_api.Fault("status", status=503, retry_after="0"),
        "malformed": kube_api.Fault("truncated"),
    }[name]


def _azure_fault(name: str) -> azure_api.Fault:
    return {
        "timeout": azure_api.Fault("timeout"),
        "429": azure_api.Fault("status", 429, retry_after="1"),
        "5xx": azure_api.Fault("status", 500),
        "malformed": azure_api.Fault("malformed"),
    }[name]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("side", ["kube", "arm", "logs"])
def test_fault_cell(side, fault, baseline, ca, tmp_path, monkeypatch) -> None:
    want, base_kube, base_azure = baseline
    override: dict[str, str] = {}
    with (
        KubeApiEmulator(SCENARIO, latency_cap=0.2) as kube,
        AzureEmulator(SCENARIO, token=TOKEN, ca=ca) as azure,
    ):
        azure.stall_seconds = 1.5
        if fault == "refused":
            dead = f"https://127.0.0.1:{closed_port()}"
            override = {
                "kube": {"kube_url": dead},
                "arm": {"GPUBOT_ARM_ENDPOINT": dead},
                "logs": {"GPUBOT_LOGS_ENDPOINT": dead + "/v1"},
            }[side]
        elif side == "kube":
            kube.fault(".*", _kube_fault(fault))
        else:
            for route in ARM_ROUTES if side == "arm" else ["logs"]:
                azure.inject(route, _azure_fault(fault))
        started = time.monotonic()
        diagnosis = _run(kube, azure, tmp_path, monkeypatch, **override)
        elapsed = time.monotonic() - started
        kube_requests, azure_requests = len(kube.requests), len(azure.requests)
    assert elapsed < HANG_GUARD, f"{side}/{fault} took {elapsed:.0f}s"
    got = _steps(diagnosis)
    assert got.keys() == want.keys(), "every playbook and step still reports"
    prefix = PREFIX[side]
    affected = 0
    for key, step in got.items():
        reads = any(s.startswith(prefix) for s in step.sources) if step.sources else False
        if step.verdict != want[key].verdict:
            assert reads, f"{key} changed without reading {side}: {step}"
            assert step.verdict == Verdict.INCONCLUSIVE, (key, step)
            assert "unavailable" in step.detail, (key, step.detail)
            affected += 1
        if not reads:
            assert step.verdict == want[key].verdict, key
    reasons = [line for s in got.values() for line in s.lines if line.startswith(prefix)]
    assert any(" unavailable: " in line for line in reasons), f"the {side} fault reached no step"
    # Bounded retries: at most one try plus the retries for each fault-free request.
    if side == "kube":
        assert kube_requests <= base_kube * (KUBE_RETRIES + 1)
    else:
        assert azure_requests <= base_azure * (FAST.retries + 1)
    assert TOKEN not in repr(diagnosis.model_dump())


# ---- the Slack Web API: the diagnosis is made whatever Slack does. When chat.update fails
# after the client's bounded retries, the summary is posted as a new message instead, with the
# thread under it; only when Slack cannot be reached at all does delivery raise.

SLACK_FAULTS = {
    "timeout": ["timeout"] * 100,
    "429": [],  # FakeSlack.rate_limits
    "5xx": ["503"] * 100,
    "malformed": ["malformed"] * 100,
    "refused": [],
}
SLACK_REASON = {
    "timeout": "TimeoutError",
    "429": "ratelimited",
    "5xx": "HTTP 503",
    "malformed": "JSONDecodeError",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_slack_fault_cell(fault, caplog) -> None:
    from bot import metrics
    from bot.engine.service import Diagnoser
    from bot.render.slack import render_messages
    from bot.slack.app import web_client
    from bot.slack.delivery import deliver
    from bot.slack.settings import SlackEnv
    from tests.emulators.slack_api import FakeSlack

    catalog = load_catalog()
    snapshot = SnapshotSource(SCENARIO)
    diagnoser = Diagnoser(
        catalog=catalog, sources=lambda _n: snapshot, cluster_names=[snapshot.cluster.name]
    )
    fault_free = diagnoser.run(None)
    want = {f.playbook: f.verdict for f in fault_free.findings}
    head, *replies = render_messages(fault_free)
    made: list[Any] = []
    reason = SLACK_REASON.get(fault, "")
    counted = "gpubot_slack_summary_fallbacks_total"
    fallbacks = metrics.REGISTRY.get_sample_value(counted, {"reason": reason}) or 0

    def run(advance):
        made.append(diagnoser.run(None, on_finding=advance))
        return made[-1]

    with FakeSlack() as slack:
        slack.stall_seconds = 2.0
        url = f"http://127.0.0.1:{closed_port()}/api/" if fault == "refused" else slack.url
        client = web_client(
            SlackEnv(
                bot_token="xoxb-fault",
                signing_secret="s",
                app_token=None,
                api_url=url,
                webhook_secret=None,
            )
        )
        client.timeout = 1
        if fault == "429":
            slack.rate_limits["chat.update"] = [1] * 100
        else:
            slack.faults["chat.update"] = list(SLACK_FAULTS[fault])
        started = time.monotonic()
        try:
            ts, _ = deliver(client, channel="C1", title="t", total=len(want), run=run)
        except Exception:
            logging.getLogger("gpubot.slack").exception("delivery failed")
            ts = None
        elapsed = time.monotonic() - started
        updates = len(slack.of("chat.update"))
        posts = [c for c in slack.of("chat.postMessage") if c.reply.get("ok")]
        deletes = slack.of("chat.delete")
    assert elapsed < HANG_GUARD
    if fault == "refused":
        assert ts is None and "delivery failed" in caplog.text
        assert not made, "no channel to post to: nothing was started"
        return
    assert made and {f.playbook: f.verdict for f in made[0].findings} == want
    # the progress message, then the summary as a new message, then the thread under it
    progress, summary, *thread = posts
    assert progress.args["text"].startswith(":hourglass")
    assert summary.args["text"] == head["text"] and summary.args["blocks"] == head["blocks"]
    assert ts == summary.reply["ts"] != progress.reply["ts"]
    assert [c.args["text"] for c in thread] == [r["text"] for r in replies]
    assert all(c.args["thread_ts"] == ts for c in thread)
    # the stale progress message: the pointer update failed like every update, so it is deleted
    assert [c.args["ts"] for c in deletes] == [progress.reply["ts"]]
    # one progress update (progress stops after a failure), the summary and the pointer, each
    # tried at most 1 + 3 times by the client's retry handlers
    assert 3 <= updates <= 3 * (1 + 3), f"{updates} chat.update calls"
    assert f"failed ({reason}); posting the summary as a new message" in caplog.text
    assert "xoxb-fault" not in caplog.text
    assert metrics.REGISTRY.get_sample_value(counted, {"reason": reason}) == fallbacks + 1


# ---- the same faults on one thread reply: the summary stands, the other replies are posted,
# and a last reply names what is missing.

THREAD_SCENARIO = ROOT / "tests/scenarios/inference-crashloop/confirmed"  # five thread replies
THREAD_FAULTS = ["timeout", "429", "5xx", "malformed", "error:invalid_blocks"]
THREAD_FAULT = {"timeout": "timeout", "429": "429", "5xx": "503", "malformed": "malformed"}


@pytest.mark.parametrize("fault", THREAD_FAULTS)
def test_slack_thread_reply_fault_cell(fault, caplog) -> None:
    from bot import metrics
    from bot.engine.service import Diagnoser
    from bot.render.slack import render_messages
    from bot.slack.app import web_client
    from bot.slack.delivery import deliver
    from bot.slack.settings import SlackEnv
    from tests.emulators.slack_api import FakeSlack

    snapshot = SnapshotSource(THREAD_SCENARIO)
    diagnoser = Diagnoser(
        catalog=load_catalog(), sources=lambda _n: snapshot, cluster_names=[snapshot.cluster.name]
    )
    fault_free = diagnoser.run(None)
    want = {f.playbook: f.verdict for f in fault_free.findings}
    head, *replies = render_messages(fault_free)
    assert len(replies) >= 3, "the failing reply must have replies before and after it"
    victim = replies[1]["text"]  # "... · evidence: inconclusive (1)"
    made: list[Any] = []
    dropped = metrics.REGISTRY.get_sample_value("gpubot_slack_thread_replies_dropped_total")

    def run(advance):
        made.append(diagnoser.run(None, on_finding=advance))
        return made[-1]

    with FakeSlack() as slack:
        slack.stall_seconds = 2.0
        env = SlackEnv(
            bot_token="xoxb-fault",
            signing_secret="s",
            app_token=None,
            api_url=slack.url,
            webhook_secret=None,
        )
        client = web_client(env)
        client.timeout = 1
        slack.fault_rules["chat.postMessage"] = lambda args: (
            THREAD_FAULT.get(fault, fault) if args.get("text") == victim else None
        )
        started = time.monotonic()
        ts, diagnosis = deliver(client, channel="C1", title="t", total=len(want), run=run)
        elapsed = time.monotonic() - started
        posts = slack.of("chat.postMessage")
        updates = slack.of("chat.update")
    assert elapsed < HANG_GUARD
    assert {f.playbook: f.verdict for f in diagnosis.findings} == want
    assert updates[-1].args["text"] == head["text"], "the summary stands"
    posted = [c.args.get("text") for c in posts if c.reply.get("ok")]
    assert posted[0].startswith(":hourglass"), "the progress message, then the thread"
    assert posted[1:-1] == [r["text"] for r in replies if r["text"] != victim]
    assert all(c.args.get("thread_ts") == ts for c in posts[1:])
    tries = [c for c in posts if c.args.get("text") == victim]
    assert 1 <= len(tries) <= 1 + 3, f"{len(tries)} attempts at the failing reply"
    note = posted[-1]
    assert note.startswith(f":warning: 1 of {len(replies)} detail replies could not be posted")
    assert "evidence: inconclusive (1)" in note and "The summary above stands" in note
    reason = {"timeout": "TimeoutError", "429": "ratelimited", "5xx": "HTTP 503"}
    reason |= {"malformed": "JSONDecodeError", "error:invalid_blocks": "invalid_blocks"}
    assert f"(Slack: {reason[fault]})" in note
    assert "thread reply 2 of" in caplog.text and "xoxb-fault" not in caplog.text
    after = metrics.REGISTRY.get_sample_value("gpubot_slack_thread_replies_dropped_total")
    assert after == (dropped or 0) + 1
