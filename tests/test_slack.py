"""The Slack bot over real sockets: signed requests to `gpubot serve --http`, the fake Web API."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from urllib.parse import urlencode

import pytest

from bot.engine.loader import load_catalog
from bot.engine.service import Diagnoser
from bot.slack.settings import SlackConfig
from bot.sources.snapshot import SnapshotSource
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack

QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"
HEALTHY = ROOT / "tests/scenarios/healthy"

ALERTMANAGER_POST = {
    "subtype": "bot_message",
    "bot_id": "BALERTMGR",
    "username": "alertmanager",
    "text": "",
    "channel": "CINCIDENT",
    "ts": "1764230100.000200",
    "attachments": [
        {
            "color": "danger",
            "title": "[FIRING:1] KaitoWorkspaceNotReady (default workspace-llama-3-1-8b critical)",
            "title_link": "http://alertmanager.monitoring:9093/#/alerts?receiver=slack",
            "text": "*Alert:* Workspace has been ResourceReady=False for 10m\n*Details:*\n"
            "• *alertname:* `KaitoWorkspaceNotReady`\n• *namespace:* `default`\n"
            "• *workspace:* `workspace-llama-3-1-8b`\n• *severity:* `critical`",
            "fallback": "[FIRING:1] KaitoWorkspaceNotReady",
            "footer": "",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}


@pytest.fixture
def fake():
    with FakeSlack() as f:
        yield f


@pytest.fixture
def running(fake, tmp_path):
    bot = h.start_bot(fake, QUOTA, tmp_path)
    yield bot
    bot.stop()


def _final_summary(fake: FakeSlack) -> dict:
    calls = fake.wait_for(
        lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs)
    )
    return next(c for c in calls if c.method == "chat.update" and c.args.get("blocks"))


def _confirmed_in_blocks(blocks: list[dict]) -> set[str]:
    out = set()
    for b in blocks:
        bid = str(b.get("block_id", ""))
        text = json.dumps(b, ensure_ascii=False)
        if bid.startswith("finding:") and "🔴" in text:
            out.add(bid.split(":")[1])
    return out


def test_signed_diagnose_is_acked_then_posts_the_cli_diagnosis(running, fake, run_cli) -> None:
    status, body = h.slash(running.url, "diagnose", response_url=fake.response_url)
    assert status == 200
    assert "Diagnosing aks-inference" in body  # the ack text, sent before any diagnosis work
    summary = _final_summary(fake)
    first_post = fake.of("chat.postMessage")[0]
    assert "0/" in first_post.args["text"] and first_post.at <= summary.at
    _, out, _ = run_cli("diagnose", "--snapshot", str(QUOTA), "--format", "json")
    cli_confirmed = {
        f["playbook"] for f in json.loads(out)["findings"] if f["verdict"] == "confirmed"
    }
    assert cli_confirmed and _confirmed_in_blocks(summary.args["blocks"]) == cli_confirmed
    blocks = summary.args["blocks"]
    assert len(blocks) <= 50
    assert any(b.get("block_id", "").startswith("ack:quota-exhausted") for b in blocks)
    assert any("Owner:" in json.dumps(b) for b in blocks)
    # details follow in the thread of the summary message
    thread = fake.wait_for(
        lambda cs: any(c.method == "chat.postMessage" and c.args.get("thread_ts") for c in cs)
    )
    assert any(
        c.args.get("thread_ts") == summary.args["ts"]
        for c in thread
        if c.method == "chat.postMessage"
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"secret": "wrong-secret"},
        {"ts": int(time.time()) - 6 * 60},
        {"signature": "v0=" + "0" * 64},
    ],
    ids=["bad-signature", "stale-timestamp", "forged"],
)
def test_unsigned_or_stale_requests_are_refused(running, fake, kw) -> None:
    status, _ = h.slash(running.url, "diagnose", **kw)
    assert status == 401
    time.sleep(0.2)
    assert fake.of("chat.postMessage") == []


def test_missing_signature_headers_are_refused(running) -> None:
    req = urllib.request.Request(
        f"{running.url}/slack/events", data=b"command=/gpu&text=diagnose", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)
    assert exc.value.code == 401


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("diagnose prod-cluster", "unknown cluster"),
        ("diagnose Bad_NS/x", "not a Kubernetes"),
        ("reboot", "unknown"),
    ],
)
def test_bad_arguments_get_usage_not_a_trace(running, fake, text, needle) -> None:
    status, body = h.slash(running.url, text)
    assert status == 200 and needle in body and "Usage" in body and "Traceback" not in body
    time.sleep(0.2)
    assert fake.of("chat.postMessage") == []


def test_help(running) -> None:
    status, body = h.slash(running.url, "help")
    assert status == 200 and "/gpu diagnose" in body


def test_channel_allow_list(fake, tmp_path) -> None:
    bot = h.start_bot(fake, QUOTA, tmp_path, config=SlackConfig(channels=["CONLY"]))
    try:
        status, body = h.slash(bot.url, "diagnose", channel="CELSEWHERE")
        assert status == 200 and "not enabled in this channel" in body
        status, body = h.slash(bot.url, "diagnose", channel="CONLY")
        assert "Diagnosing" in body
        _final_summary(fake)
    finally:
        bot.stop()


def test_ack_comes_first_even_when_the_pool_is_saturated(fake, tmp_path) -> None:
    release = threading.Event()
    started = threading.Event()
    source = SnapshotSource(QUOTA)
    catalog = load_catalog()

    class Blocking(Diagnoser):
        def run(self, *a, **kw):
            started.set()
            release.wait(60)
            return super().run(*a, **kw)

    diagnoser = Blocking(catalog, lambda _n: source, [source.cluster.name])
    bot = h.start_bot(
        fake, QUOTA, tmp_path, config=SlackConfig(workers=1, queue=0), diagnoser=diagnoser
    )
    try:
        status, body = h.slash(bot.url, "diagnose")
        assert status == 200 and "Diagnosing" in body
        assert started.wait(30)
        status, body = h.slash(bot.url, "diagnose")  # the only worker is busy, no queue
        assert status == 200 and "busy" in body
        assert not release.is_set()  # answered while the first diagnosis still runs
    finally:
        release.set()
        _final_summary(fake)
        bot.stop()


def test_alert_attachment_is_triaged_once_in_its_thread_despite_redelivery(running, fake) -> None:
    for retry in (None, 1, 2):
        status, _ = h.event(running.url, ALERTMANAGER_POST, event_id="Ev0ALERT1", retry=retry)
        assert status == 200
    fake.wait_for(lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs))
    time.sleep(0.5)
    in_thread = [
        c for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == ALERTMANAGER_POST["ts"]
    ]
    progress = [c for c in in_thread if "checks]" in c.args.get("text", "")]
    assert len(progress) == 1, [c.args.get("text") for c in in_thread]
    assert all(c.args["channel"] == "CINCIDENT" for c in in_thread)


def test_repeated_firing_goes_to_the_first_thread_and_resolution_is_noted(running, fake) -> None:
    h.event(running.url, ALERTMANAGER_POST, event_id="Ev1")
    fake.wait_for(lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs))
    again = {**ALERTMANAGER_POST, "ts": "1764230999.000300"}
    h.event(running.url, again, event_id="Ev2")
    fake.wait_for(lambda cs: any("fired again" in c.args.get("text", "") for c in cs))
    resolved = {
        **ALERTMANAGER_POST,
        "ts": "1764231999.000300",
        "attachments": [
            {
                **ALERTMANAGER_POST["attachments"][0],
                "color": "good",
                "title": "[RESOLVED] KaitoWorkspaceNotReady (default workspace-llama-3-1-8b)",
            }
        ],
    }
    h.event(running.url, resolved, event_id="Ev3")
    calls = fake.wait_for(lambda cs: any("resolved" in c.args.get("text", "") for c in cs))
    notes = [
        c
        for c in calls
        if "fired again" in c.args.get("text", "") or "resolved." in c.args.get("text", "")
    ]
    assert notes and all(c.args.get("thread_ts") == ALERTMANAGER_POST["ts"] for c in notes)


def test_own_messages_and_plain_chatter_are_ignored(running, fake) -> None:
    own = {**ALERTMANAGER_POST, "bot_id": "BBOT", "user": "UBOT", "ts": "1764230500.000100"}
    h.event(running.url, own, event_id="EvOWN")
    chatter = {
        "user": "U777",
        "text": "lunch at 1?",
        "channel": "CINCIDENT",
        "ts": "1764230600.000100",
    }
    h.event(running.url, chatter, event_id="EvCHAT")
    time.sleep(1.0)
    assert fake.of("chat.postMessage") == []


def test_rate_limited_posts_are_retried_after_retry_after(running, fake) -> None:
    fake.rate_limits["chat.postMessage"] = [1]
    h.slash(running.url, "diagnose")
    _final_summary(fake)
    posts = [c for c in fake.calls if c.method == "chat.postMessage"]
    assert len(posts) >= 2  # the 429'd attempt and its retry
    assert (
        posts[1].at - posts[0].at >= 0.9
    )  # Retry-After honoured (a protocol fact, not a speed target)


def test_alertmanager_webhook_needs_the_secret_and_triages_into_the_alert_channel(
    running, fake
) -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "gpubot",
        "groupKey": '{}:{alertname="KaitoWorkspaceNotReady"}',
        "groupLabels": {"alertname": "KaitoWorkspaceNotReady"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
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
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "abc",
            }
        ],
    }
    body = json.dumps(payload).encode()
    bad = urllib.request.Request(f"{running.url}/alerts/alertmanager", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(bad, timeout=10)
    assert exc.value.code == 401
    good = urllib.request.Request(
        f"{running.url}/alerts/alertmanager",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {h.WEBHOOK_SECRET}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(good, timeout=10) as resp:
        assert resp.status == 202 and json.loads(resp.read())["accepted"] == 1
    summary = _final_summary(fake)
    assert summary.args["channel"] == "CALERTS"


def test_healthz_and_metrics(running, fake) -> None:
    with urllib.request.urlopen(f"{running.url}/healthz", timeout=10) as resp:
        assert resp.status == 200 and json.loads(resp.read())["ok"] is True
    with urllib.request.urlopen(f"{running.url}/metrics", timeout=10) as resp:
        assert b"gpubot_diagnosis_queue_depth" in resp.read()


def _click(
    url: str, action_id: str, value: str, user: str = "U777", response_url: str = ""
) -> tuple[int, str]:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user, "team_id": "T0001"},
        "api_app_id": "A1",
        "container": {"type": "message", "message_ts": "1764230000.000100", "channel_id": "CINFRA"},
        "channel": {"id": "CINFRA"},
        "trigger_id": "trig-1",
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "ack:x",
                "value": value,
                "type": "button",
                "action_ts": "1764230001.000200",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    return h.signed_post(
        f"{url}/slack/events", body, content_type="application/x-www-form-urlencoded"
    )


def test_acknowledged_finding_is_noted_instead_of_paging_owners(fake, tmp_path) -> None:
    config = SlackConfig(owner_groups={"quota": "S0FINOPS"})
    bot = h.start_bot(fake, QUOTA, tmp_path, config=config)
    try:
        h.slash(bot.url, "diagnose")
        first = _final_summary(fake)
        text = json.dumps(first.args["blocks"])
        assert "<!subteam^S0FINOPS>" in text  # the owning team's group is mentioned
        status, _ = _click(
            bot.url, "ack:quota-exhausted", "aks-inference", response_url=fake.response_url
        )
        assert status == 200
        acks = bot.bot.store.active_acks("aks-inference")
        assert acks["quota-exhausted"].user_id == "U777"
        fake.calls.clear()
        h.slash(bot.url, "diagnose")
        second = _final_summary(fake)
        text = json.dumps(second.args["blocks"])
        assert "Acknowledged by <@U777>" in text and "<!subteam^S0FINOPS>" not in text
        status, _ = _click(
            bot.url, "ack:no-such-playbook", "aks-inference", response_url=fake.response_url
        )
        assert status == 200 and "no-such-playbook" not in bot.bot.store.active_acks(
            "aks-inference"
        )
    finally:
        bot.stop()
