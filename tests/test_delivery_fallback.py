"""The summary reaches the channel even when its progress message cannot be updated into it:
`deliver` posts it as a new message, threads the details under it, and points the stale
progress message at it. Through the bot's own `WebClient` against FakeSlack, which fails a call
by what it carries (only the summary's update carries blocks)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.engine.loader import load_catalog
from bot.engine.service import Diagnoser
from bot.render.slack import render_messages
from bot.slack.app import web_client
from bot.slack.delivery import TakenOver, deliver
from bot.slack.settings import SlackEnv
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack

SCENARIO = ROOT / "tests/scenarios/inference-crashloop/confirmed"  # five thread replies
TOKEN = "xoxb-fallback-test"
FALLBACKS = "gpubot_slack_summary_fallbacks_total"


@pytest.fixture(scope="module")
def diagnoser() -> Diagnoser:
    snapshot = SnapshotSource(SCENARIO)
    return Diagnoser(
        catalog=load_catalog(), sources=lambda _n: snapshot, cluster_names=[snapshot.cluster.name]
    )


def _client(fake: FakeSlack):
    env = SlackEnv(
        bot_token=TOKEN, signing_secret="s", app_token=None, api_url=fake.url, webhook_secret=None
    )
    client = web_client(env)
    client.timeout = 5
    return client


def _summary_fails(code: str):
    """Only the summary carries blocks: progress updates and the pointer go through."""
    return lambda args: f"error:{code}" if args.get("blocks") else None


def _counted(reason: str) -> float:
    return metrics.REGISTRY.get_sample_value(FALLBACKS, {"reason": reason}) or 0.0


class Recorder:
    """A job's tracker as `deliver` sees it (bot/slack/jobs.py keeps it in the store)."""

    def __init__(self, *, done: int = 0, may: bool = True) -> None:
        self.done, self.may = done, may
        self.at: list[str] = []
        self.replies: list[int] = []

    def posted(self, channel: str, ts: str) -> None:
        self.at.append(ts)

    def may_deliver(self) -> bool:
        return self.may

    def replies_done(self) -> int:
        return self.done

    def replied(self, count: int) -> None:
        self.replies.append(count)


def test_a_deleted_progress_message_gets_the_summary_as_a_new_post_with_its_thread(
    diagnoser, caplog
) -> None:
    head, *replies = render_messages(diagnoser.run(None))
    before = _counted("message_not_found")
    tracker = Recorder()
    with FakeSlack() as fake:
        fake.fault_rules["chat.update"] = _summary_fails("message_not_found")
        ts, diagnosis = deliver(
            _client(fake),
            channel="C1",
            title="Diagnosing aks-inference",
            total=20,
            run=lambda advance: diagnoser.run(None, on_finding=advance),
            tracker=tracker,
        )
        posts = fake.of("chat.postMessage")
        updates = fake.of("chat.update")
        deletes = fake.of("chat.delete")
    progress, summary, *thread = posts
    assert summary.args["text"] == head["text"] and summary.args["blocks"] == head["blocks"]
    assert summary.args.get("thread_ts") is None, "a /gpu summary stands in the channel"
    assert ts == summary.reply["ts"] != progress.reply["ts"]
    assert [c.args["text"] for c in thread] == [r["text"] for r in replies]
    assert all(c.args["thread_ts"] == ts for c in thread), "the details under the new summary"
    assert [f.verdict for f in diagnosis.findings].count("confirmed") >= 1
    # the summary's update was tried once (an `ok: false` is not retried); nothing points at
    # or deletes a message that is gone
    assert len([c for c in updates if c.args.get("blocks")]) == 1
    assert not [c for c in updates if "posted below" in c.args.get("text", "")]
    assert deletes == []
    assert tracker.at == [progress.reply["ts"], ts], "a resume updates the new summary"
    assert tracker.replies == [1, 2, 3, 4, 5]
    assert _counted("message_not_found") == before + 1
    assert "(message_not_found); posting the summary as a new message" in caplog.text
    assert TOKEN not in caplog.text


def test_in_a_thread_the_summary_is_posted_in_it_and_the_stale_message_points_to_it(
    diagnoser,
) -> None:
    head, *replies = render_messages(diagnoser.run(None))
    with FakeSlack() as fake:
        fake.fault_rules["chat.update"] = _summary_fails("cant_update_message")
        ts, _ = deliver(
            _client(fake),
            channel="C1",
            thread_ts="1700000000.000100",  # an alert's thread
            title="Triage for KubePodCrashLooping",
            total=20,
            run=lambda advance: diagnoser.run(None, on_finding=advance),
        )
        posts = fake.of("chat.postMessage")
        updates = fake.of("chat.update")
        deletes = fake.of("chat.delete")
    progress, summary, *thread = posts
    assert all(c.args["thread_ts"] == "1700000000.000100" for c in posts)
    assert summary.args["blocks"] == head["blocks"] and ts == summary.reply["ts"]
    assert [c.args["text"] for c in thread] == [r["text"] for r in replies]
    pointer = updates[-1]
    assert pointer.args["ts"] == progress.reply["ts"] and pointer.args["blocks"] == []
    assert pointer.args["text"].startswith(":arrow_down: Triage for KubePodCrashLooping")
    assert deletes == [], "the pointer took, so the message stays, pointing down"


def test_when_the_new_post_fails_too_delivery_raises_and_posts_no_thread(diagnoser, caplog) -> None:
    with FakeSlack() as fake:
        fake.fault_rules["chat.update"] = _summary_fails("msg_too_long")
        fake.fault_rules["chat.postMessage"] = _summary_fails("msg_too_long")
        with pytest.raises(SlackApiError):
            deliver(
                _client(fake),
                channel="C1",
                title="t",
                total=20,
                run=lambda advance: diagnoser.run(None, on_finding=advance),
            )
        posts = fake.of("chat.postMessage")
    # the progress message, then one try at the summary; no reply is posted under nothing
    assert len(posts) == 2 and posts[1].args.get("blocks")
    assert "could not be posted anew either: msg_too_long" in caplog.text


def test_the_fence_comes_before_the_update_and_the_fallback(diagnoser) -> None:
    with FakeSlack() as fake:
        fake.fault_rules["chat.update"] = _summary_fails("message_not_found")
        with pytest.raises(TakenOver):
            deliver(
                _client(fake),
                channel="C1",
                title="t",
                total=20,
                run=lambda advance: diagnoser.run(None, on_finding=advance),
                tracker=Recorder(may=False),
            )
        calls = list(fake.calls)
    assert not [c for c in calls if c.args.get("blocks")], "no summary, updated or posted"
    assert [c.method for c in calls if c.method == "chat.postMessage"] == ["chat.postMessage"]


def test_replies_already_in_the_thread_are_skipped_and_the_rest_recorded(diagnoser) -> None:
    _, *replies = render_messages(diagnoser.run(None))
    tracker = Recorder(done=2)
    with FakeSlack() as fake:
        ts, _ = deliver(
            _client(fake),
            channel="C1",
            title="t",
            total=20,
            run=lambda advance: diagnoser.run(None, on_finding=advance),
            progress_ts="1700000000.000200",
            tracker=tracker,
        )
        thread = [c for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert ts == "1700000000.000200", "the summary replaced the progress message"
    assert [c.args["text"] for c in thread] == [r["text"] for r in replies[2:]]
    assert tracker.replies == [3, 4, 5]
