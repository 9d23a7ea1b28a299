"""Issue 6 observability: per-source call latency and errors on /metrics, JSON logs whose
request_id ties a Slack command to its evidence calls, no secret in any log line, and /healthz
following the Socket Mode connection. Everything runs the real clients against the emulators."""

from __future__ import annotations

import argparse
import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import trustme
import yaml
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.errors import SlackApiError

from bot import logctx
from bot.cli.serve import start_socket_mode
from bot.cli.wiring import diagnoser_for
from bot.slack.app import web_client
from bot.slack.settings import SlackEnv
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators import kube_api
from tests.emulators.azure_api import AzureEmulator, Fault
from tests.emulators.kube_api import KubeApiEmulator
from tests.emulators.slack_api import FakeSlack, FakeSocketMode

QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"
CANARIES = {
    "SLACK_BOT_TOKEN": "canary-bot-token-0b7e4c",
    "SLACK_APP_TOKEN": "canary-app-token-5a1f93",
    "SLACK_SIGNING_SECRET": "canary-signing-secret-e2d8",
    "GPUBOT_WEBHOOK_SECRET": "canary-webhook-secret-77c1",
    "GPUBOT_FIX_SIGNING_KEY": "canary-fix-signing-key-9f02",
}
AZURE_TOKEN = "canary-azure-token-3c9d41"
SOURCES = ("kubernetes", "arm", "loganalytics", "slack")


@pytest.fixture
def restore_logging():
    """gpubot's handler and a lowered root level must not outlive the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [x for x in root.handlers if x not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, got), value in samples.items()
        if sample == name and set(labels.items()) <= set(got)
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _live_diagnoser(kube, azure, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
    for name, value in azure.env().items():
        monkeypatch.setenv(name, value)
    cluster = yaml.safe_load((QUOTA / "snapshot.yaml").read_text())["cluster"]
    config = tmp_path / "gpubot.yaml"
    config.write_text(yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}]}))
    args = argparse.Namespace(config=config, cluster=None, snapshot=None, demo=False)
    return diagnoser_for(args)


def test_slash_command_metrics_and_request_id(
    tmp_path, monkeypatch, capsys, restore_logging
) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    with (
        KubeApiEmulator(QUOTA, missing_crd_status=403, latency_cap=0.2) as kube,
        AzureEmulator(QUOTA, token=AZURE_TOKEN, ca=trustme.CA()) as azure,
        FakeSlack() as fake,
    ):
        diagnoser = _live_diagnoser(kube, azure, tmp_path, monkeypatch)
        logctx.configure("json", level=logging.DEBUG)  # as `gpubot serve --log-format json`
        running = h.start_bot(fake, QUOTA, tmp_path, diagnoser=diagnoser)
        try:
            before = scrape(running.url)
            azure.inject("usages", Fault("status", status=503, times=1))
            kube.fault(r"^GET /api/v1/nodes$", kube_api.Fault("status", 429, "0", times=1))
            status, body = h.slash(running.url, "diagnose", response_url=fake.response_url)
            assert status == 200, body
            fake.wait_for(
                lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs)
            )
            after = scrape(running.url)
            # A secret that does reach a log call is scrubbed on the way out.
            planted = " ".join([*CANARIES.values(), AZURE_TOKEN])
            logging.getLogger("gpubot.test").warning("planted: %s", planted)
        finally:
            running.stop()
        usages_statuses = [r.status for r in azure.seen("usages")]
    err = capsys.readouterr().err

    calls = "gpubot_source_call_seconds_count"
    for source in SOURCES:
        used = total(after, calls, source=source) - total(before, calls, source=source)
        assert used > 0, f"no {source} calls observed"
    assert total(after, calls, source="arm", operation="usages") > total(
        before, calls, source="arm", operation="usages"
    )
    errors = "gpubot_source_errors_total"
    assert usages_statuses[:2] == [503, 200], "the 503 was retried, and the retry answered"
    assert total(after, errors, source="arm", reason="5xx") > total(
        before, errors, source="arm", reason="5xx"
    )
    assert total(after, errors, source="kubernetes", reason="throttled") > total(
        before, errors, source="kubernetes", reason="throttled"
    )

    lines = json_lines(err)
    assert lines and all("request_id" in line for line in lines)
    command = next(line for line in lines if line["message"].startswith("/gpu diagnose"))
    request_id = command["request_id"]
    assert request_id.startswith("slash-")
    evidence = [line for line in lines if line["logger"] == "gpubot.evidence"]
    playbooks = diagnoser.catalog.select(diagnoser.catalog.runbook("triage").playbooks)
    asked = {q for p in playbooks for q in p.questions.values()}
    logged = [(line["evidence"], tuple(sorted(line["params"].items()))) for line in evidence]
    assert sorted(logged) == sorted((q.label(), q.params) for q in asked), "one line per call"
    assert {line["request_id"] for line in evidence} == {request_id}
    usages = next(line for line in evidence if line["evidence"] == "azure/usages")
    assert usages["outcome"] == "ok"
    api_calls = [line for line in lines if line["logger"] == "gpubot.calls"]
    for source in ("kubernetes", "arm", "loganalytics"):
        mine = [line for line in api_calls if line["source"] == source]
        assert mine and {line["request_id"] for line in mine} == {request_id}, source
    posts = [line for line in api_calls if line["operation"] == "chat.update"]
    assert posts and {line["request_id"] for line in posts} == {request_id}

    assert any("planted: <redacted>" in line["message"] for line in lines)
    for secret in [*CANARIES.values(), AZURE_TOKEN]:
        assert secret not in err


def test_slack_api_failures_counted_by_reason(restore_logging) -> None:
    def count(method: str | None = None, reason: str | None = None) -> float:
        from bot import metrics

        registry = metrics.REGISTRY
        if reason is not None:
            value = registry.get_sample_value(
                "gpubot_source_errors_total", {"source": "slack", "reason": reason}
            )
        else:
            value = registry.get_sample_value(
                "gpubot_source_call_seconds_count", {"source": "slack", "operation": method}
            )
        return value or 0.0

    reasons = ("throttled", "5xx", "4xx", "malformed")
    with FakeSlack() as fake:
        env = SlackEnv(
            bot_token=h.BOT_TOKEN,
            signing_secret=None,
            app_token=None,
            api_url=fake.url,
            webhook_secret=None,
        )
        client = web_client(env)
        before = {r: count(reason=r) for r in reasons}
        posts = count("chat.postMessage")
        fake.rate_limits["chat.postMessage"] = [0]
        client.chat_postMessage(channel="C1", text="once throttled, then posted")
        fake.faults["chat.update"] = ["500"]
        with pytest.raises(SlackApiError):
            client.chat_update(channel="C1", ts="1.0", text="x")
        fake.errors["conversations.info"] = "channel_not_found"
        with pytest.raises(SlackApiError):
            client.conversations_info(channel="C404")
        fake.faults["auth.test"] = ["malformed"]
        with pytest.raises(ValueError):
            client.auth_test()
    assert len(fake.of("chat.postMessage")) == 2, "the 429 was retried"
    assert count("chat.postMessage") == posts + 1, "one call, however many attempts"
    assert {r: count(reason=r) - before[r] for r in reasons} == dict.fromkeys(reasons, 1.0)


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_health(url: str, want: int, timeout: float = 30) -> None:
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = _health(url)
        if seen == want:
            return
        time.sleep(0.1)
    raise AssertionError(f"/healthz stayed {seen}, wanted {want}")


def test_healthz_follows_the_socket_mode_connection(tmp_path) -> None:
    with FakeSlack() as fake:
        ws = FakeSocketMode(fake).start()
        running = h.start_bot(fake, QUOTA, tmp_path, http=False, app_token="xapp-test-not-real")
        handler = start_socket_mode(
            running.bot, running.web, "xapp-test-not-real", ping_interval=0.5
        )
        try:
            _wait_health(running.url, 200)
            fake.errors["apps.connections.open"] = "internal_error"  # reconnecting fails
            ws.drop()
            _wait_health(running.url, 503)
            fake.wait_for(lambda cs: sum(c.method == "apps.connections.open" for c in cs) >= 2)
            assert _health(running.url) == 503, "a refused reconnect is still unhealthy"
            del fake.errors["apps.connections.open"]
            _wait_health(running.url, 200)  # the SDK reconnected by itself
            assert ws.connected.wait(10)
        finally:
            handler.close()
            ws.stop()
            running.stop()


def test_cli_json_logs_share_one_request_id(run_cli, capsys, restore_logging, monkeypatch) -> None:
    monkeypatch.setenv("GPUBOT_WEBHOOK_SECRET", CANARIES["GPUBOT_WEBHOOK_SECRET"])
    code, out, err = run_cli(
        "diagnose",
        "--snapshot",
        str(QUOTA),
        "--format",
        "json",
        "--no-progress",
        "--log-format",
        "json",
        "--log-level",
        "info",
    )
    assert code == 0, err
    assert json.loads(out)["cluster"] == "aks-inference", "stdout carries only the result"
    lines = json_lines(err)
    evidence = [line for line in lines if line["logger"] == "gpubot.evidence"]
    assert len(evidence) > 10, "one line per fact the triage runbook reads"
    assert all(line["outcome"] == "ok" and line["duration_ms"] >= 0 for line in evidence)
    ids = {line["request_id"] for line in lines}
    assert len(ids) == 1 and ids.pop().startswith("diagnose-")
    with pytest.raises(SystemExit):
        run_cli("serve", "--help")
    serve_help = " ".join(capsys.readouterr().out.split())
    assert "--log-format {json,text}" in serve_help and "(default: json)" in serve_help


def test_secret_filter_scrubs_message_args_extras_and_tracebacks(capsys, restore_logging) -> None:
    secret = "s3cr3t-webhook-value-41"
    environ = {"GPUBOT_WEBHOOK_SECRET": secret, "SLACK_APP_TOKEN": "short"}
    logctx.configure("json", level=logging.INFO, environ=environ)
    log = logging.getLogger("gpubot.test")
    with logctx.request("test") as request_id:
        log.info("got %s", secret, extra={"detail": {"header": f"Bearer {secret}"}})
        log.info("user pasted xoxp-1234567890-abcdefghij in a command; short stays")
        try:
            raise ValueError(f"bad token {secret}")
        except ValueError:
            log.exception("failed")
    log.info("outside any request")
    err = capsys.readouterr().err
    assert secret not in err and "xoxp-1234567890" not in err
    got, pasted, failed, outside = json_lines(err)
    assert got["message"] == "got <redacted>"
    assert got["detail"] == {"header": "Bearer <redacted>"}
    assert pasted["message"] == "user pasted <redacted> in a command; short stays"
    assert "ValueError: bad token <redacted>" in failed["exc_info"]
    assert {got["request_id"], failed["request_id"]} == {request_id}
    assert outside["request_id"] == logctx.NO_REQUEST


def test_request_id_follows_submitted_work() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool, logctx.request("test") as request_id:
        assert logctx.submit(pool, logctx.current).result() == request_id
        # a bare submit starts from the worker thread's own, empty context
        assert pool.submit(logctx.current).result() is None
        with logctx.request("inner", keep=True) as kept:
            assert kept == request_id
        with logctx.request("inner") as fresh:
            assert fresh != request_id and fresh.startswith("inner-")
        assert logctx.current() == request_id
    assert logctx.current() is None
