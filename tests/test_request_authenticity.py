"""Issue 8 request authenticity over a real socket (`gpubot serve --http`: waitress, Bolt's
request verification, the fake Slack Web API). A correctly signed request replayed within the
five minutes the signature stays valid runs once; a request that is not correctly signed gets
401 and causes no Web API call at all."""

from __future__ import annotations

import time

import pytest

from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack
from tests.test_slack import ALERTMANAGER_POST

QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture
def fake():
    with FakeSlack() as f:
        yield f


@pytest.fixture
def running(fake, tmp_path):
    bot = h.start_bot(fake, QUOTA, tmp_path)
    yield bot
    bot.stop()


def _progress_posts(fake: FakeSlack) -> list[str]:
    """The first message of every diagnosis or triage: one per run."""
    return [
        c.args["text"]
        for c in fake.of("chat.postMessage")
        if "[0/" in c.args.get("text", "") and "checks]" in c.args.get("text", "")
    ]


def test_replayed_slash_command_runs_one_diagnosis(running, fake) -> None:
    url, ts = f"{running.url}/slack/events", int(time.time())
    body = h.slash_body("diagnose", trigger_id="1337.42.replayed")
    first = h.signed_post(url, body, content_type=FORM, ts=ts)
    replay = h.signed_post(url, body, content_type=FORM, ts=ts)  # same bytes, same signature
    fresh = h.slash(running.url, "diagnose")  # the same words typed again: a new invocation
    running.drain()
    assert first[0] == replay[0] == fresh[0] == 200
    assert "Diagnosing" in first[1] and "Diagnosing" in fresh[1]
    assert "Diagnosing" not in replay[1]
    assert len(_progress_posts(fake)) == 2, _progress_posts(fake)


def test_replayed_event_runs_one_triage(running, fake) -> None:
    url, ts = f"{running.url}/slack/events", int(time.time())
    body = h.event_body(ALERTMANAGER_POST, event_id="Ev0REPLAYED")
    for _ in range(3):  # no X-Slack-Retry-* headers: a replay, not a Slack redelivery
        assert h.signed_post(url, body, content_type=JSON, ts=ts)[0] == 200
    again = {**ALERTMANAGER_POST, "ts": "1764230777.000100"}  # the alert posted once more
    assert h.event(running.url, again, event_id="Ev0FRESH")[0] == 200
    running.drain()
    assert len(_progress_posts(fake)) == 2, _progress_posts(fake)
    assert [c for c in fake.of("chat.postMessage") if "fired again" in c.args.get("text", "")]


# Timestamps are offsets from the moment of sending (see `_how`): computed at collection
# time they would drift into Slack's 5-minute window on a slow, long test run.
REJECTED = {
    "wrong-secret": {"secret": "not-the-signing-secret"},
    "forged-signature": {"signature": "v0=" + "0" * 64},
    "not-v0-signature": {"signature": "sha1=abc"},
    "stale-6-min": {"ts_offset": -6 * 60},
    "future-6-min": {"ts_offset": 6 * 60},
    "no-signature-header": {"omit": ("X-Slack-Signature",)},
    "no-timestamp-header": {"omit": ("X-Slack-Request-Timestamp",)},
    "no-headers": {"omit": ("X-Slack-Signature", "X-Slack-Request-Timestamp")},
    "timestamp-not-a-number": {"extra": {"X-Slack-Request-Timestamp": "yesterday"}},
}


def _how(how: dict) -> dict:
    if "ts_offset" in how:
        return {"ts": int(time.time()) + how["ts_offset"]}
    return how


@pytest.mark.parametrize("kind", ["slash", "event"])
def test_badly_signed_requests_get_401_and_no_web_api_call(running, fake, kind) -> None:
    url = f"{running.url}/slack/events"
    before = len(fake.calls)  # Bolt's auth.test at start-up
    statuses = {}
    for case, how in REJECTED.items():
        body, ctype = (
            (h.slash_body("diagnose"), FORM)
            if kind == "slash"
            else (h.event_body(ALERTMANAGER_POST, event_id=f"Ev{case}"), JSON)
        )
        statuses[case] = h.signed_post(url, body, content_type=ctype, **_how(how))[0]
    running.drain()
    assert statuses == dict.fromkeys(REJECTED, 401)
    assert [c.method for c in fake.calls[before:]] == []
