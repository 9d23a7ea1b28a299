"""Resuming diagnosis jobs through the real bot (Bolt, the pool, `deliver`, FakeSlack): the
attempts cap, two replicas sweeping at once, a job that never got to post, an alert job that
died between counting its firing and triaging, and a finished job that is left alone.

The jobs a dead process left are written as that process would have left them: by another
bot instance over the same store (which then stops, never renewing them), or by the store
calls it had made before it died."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bot.engine.loader import load_catalog
from bot.engine.service import Diagnoser
from bot.render.slack import render_messages
from bot.slack import alerts
from bot.slack.settings import SlackConfig
from bot.sources.snapshot import SnapshotSource
from bot.store import tables
from bot.store.jobs import JobSpec
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack
from tests.test_slack import ALERTMANAGER_POST

QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"
CONFIG = SlackConfig(alert_channel="CALERTS", job_heartbeat_seconds=0.5, job_lease_seconds=1)
LEASE = timedelta(seconds=1)
PAST_LEASE_S = 1.3


def _spec() -> JobSpec:
    return JobSpec(
        trigger="slash",
        channel="CINFRA",
        title="Diagnosing aks-inference (20 checks)",
        total=20,
        runbook="triage",
        requester="U123",
    )


def _summaries(fake: FakeSlack) -> list:
    return [c for c in fake.of("chat.update") if c.args.get("blocks")]


def test_a_job_restarted_too_often_is_given_up_with_a_message(tmp_path) -> None:
    with FakeSlack() as fake:
        running = h.start_bot(fake, QUOTA, tmp_path, config=CONFIG)
        try:
            store = running.bot.store
            ts = running.bot.client.chat_postMessage(channel="CINFRA", text="⏳ Diagnosing")["ts"]
            job = store.jobs.create(_spec(), owner="first-process")
            store.jobs.posted(job.id, "first-process", "CINFRA", ts)
            time.sleep(PAST_LEASE_S)  # the first process died; a second resumed it and died too
            assert store.jobs.claim(job.id, "second-process", LEASE) is not None
            time.sleep(PAST_LEASE_S)
            assert running.bot.jobs.sweep() == 1
            running.drain()
            assert running.bot.jobs.sweep() == 0, "given up is final"
        finally:
            running.stop()
        row = store.jobs.get(job.id)
        assert row.status == "gave_up" and row.attempts == 3 and "2 runs" in row.reason
        assert _summaries(fake) == [], "the diagnosis was not run a third time"
        [update] = [c for c in fake.of("chat.update") if c.args["ts"] == ts]
        text = update.args["text"]
        assert "restarted during this diagnosis 2 times" in text and "not run again" in text
        assert "<@U123>" in text and "Diagnosing aks-inference" in text


def test_two_replicas_sweeping_at_once_deliver_each_job_once(tmp_path, store_url) -> None:
    with FakeSlack() as fake:
        replicas = [
            h.start_bot(fake, QUOTA, tmp_path, config=CONFIG, store_url=store_url) for _ in range(2)
        ]
        try:
            store = replicas[0].bot.store
            jobs = [store.jobs.create(_spec(), owner="dead-process") for _ in range(3)]
            time.sleep(PAST_LEASE_S)
            start, taken = threading.Barrier(2), []

            def sweep(bot) -> None:
                start.wait(timeout=30)
                taken.append(bot.jobs.sweep())

            threads = [threading.Thread(target=sweep, args=(r.bot,)) for r in replicas]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            for r in replicas:
                r.drain()
        finally:
            for r in replicas:
                r.stop()
        assert sum(taken) == 3, taken
        assert [store.jobs.get(j.id).status for j in jobs] == ["done"] * 3
        # none had posted progress: each resumed job posted one, and one summary into it
        progress = [c for c in fake.of("chat.postMessage") if "checks]" in c.args["text"]]
        assert len(progress) == 3 and all("gpubot restarted" in c.args["text"] for c in progress)
        summaries = _summaries(fake)
        assert sorted(c.args["ts"] for c in summaries) == sorted(c.reply["ts"] for c in progress)
        notes = [c for c in fake.of("chat.postMessage") if "re-ran it" in c.args["text"]]
        assert len(notes) == 3 and all("<@U123> asked for it" in c.args["text"] for c in notes)


def test_an_alert_job_that_died_after_counting_its_firing_counts_it_once(tmp_path) -> None:
    """Killed between opening the alert's thread and recording it on the job: the resumed job
    finds the firing it counted and triages into that thread, with no "fired again"."""
    alert = alerts.from_slack_message(ALERTMANAGER_POST)
    assert alert is not None
    channel, ts = ALERTMANAGER_POST["channel"], ALERTMANAGER_POST["ts"]
    with FakeSlack() as fake:
        dead = h.start_bot(fake, QUOTA, tmp_path, config=CONFIG)
        job = dead.bot.triage.accept(alert, channel, ts, trigger="alert")
        assert dead.bot.store.open_alert_thread(alert.fingerprint, channel, ts, job=job.id)
        dead.stop()  # never renews its job again
        time.sleep(PAST_LEASE_S)
        running = h.start_bot(fake, QUOTA, tmp_path, config=CONFIG)
        try:
            assert running.bot.jobs.sweep() == 1
            running.drain()
        finally:
            running.stop()
        store = running.bot.store
    assert store.jobs.get(job.id).status == "done"
    assert store.alert_thread(alert.fingerprint).firings == 1
    posts = fake.of("chat.postMessage")
    assert not [c for c in posts if "fired again" in c.args["text"]]
    assert posts and all(c.args["thread_ts"] == ts for c in posts), "all in the alert's thread"
    assert len([c for c in posts if "checks]" in c.args["text"]]) == 1
    assert len(_summaries(fake)) == 1


def test_a_finished_diagnosis_is_never_resumed(tmp_path) -> None:
    with FakeSlack() as fake:
        running = h.start_bot(fake, QUOTA, tmp_path, config=CONFIG)
        try:
            status, _ = h.slash(running.url, "diagnose", response_url=fake.response_url)
            assert status == 200
            fake.wait_for(
                lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs)
            )
            running.drain()
            time.sleep(PAST_LEASE_S)  # its owner never heartbeats: only "done" protects it
            assert running.bot.jobs.sweep() == 0
        finally:
            running.stop()
        store = running.bot.store
        with store.engine.connect() as conn:
            statuses = [r.status for r in conn.execute(select(tables.diagnosis_jobs))]
    assert statuses == ["done"] and store.jobs.orphans(timedelta(0)) == []
    assert len(_summaries(fake)) == 1
    assert not [c for c in fake.calls if "restarted" in str(c.args.get("text"))]


def test_a_lease_shorter_than_two_heartbeats_is_refused() -> None:
    """Such a lease would hand a live replica's diagnoses to another one between beats."""
    with pytest.raises(ValidationError, match="job_lease_seconds"):
        SlackConfig(job_heartbeat_seconds=15, job_lease_seconds=20)
    assert SlackConfig().job_lease_seconds >= 2 * SlackConfig().job_heartbeat_seconds


@pytest.mark.parametrize("ephemeral", ["delivered", "refused"])
def test_a_resumed_slash_diagnosis_that_fails_tells_the_requester(
    tmp_path, caplog, ephemeral
) -> None:
    """The resumed run has no response_url: the requester hears of the failure from an
    ephemeral message in the channel they asked in (best effort: a refusal is logged)."""
    too_long = lambda args: "error:msg_too_long" if args.get("blocks") else None  # noqa: E731
    with FakeSlack() as fake:
        running = h.start_bot(fake, QUOTA, tmp_path, config=CONFIG)
        try:
            store = running.bot.store
            ts = running.bot.client.chat_postMessage(channel="CINFRA", text="⏳ Diagnosing")["ts"]
            job = store.jobs.create(_spec(), owner="dead-process")
            store.jobs.posted(job.id, "dead-process", "CINFRA", ts)
            # Slack takes neither the summary's update nor the summary posted anew
            fake.fault_rules["chat.update"] = too_long
            fake.fault_rules["chat.postMessage"] = too_long
            if ephemeral == "refused":
                fake.fault_rules["chat.postEphemeral"] = lambda _a: "error:channel_not_found"
            time.sleep(PAST_LEASE_S)
            assert running.bot.jobs.sweep() == 1
            running.drain()
        finally:
            running.stop()
        row = store.jobs.get(job.id)
        [told] = fake.of("chat.postEphemeral")
    assert row.status == "failed" and row.reason == "SlackApiError"
    assert told.args["channel"] == "CINFRA" and told.args["user"] == "U123"
    text = told.args["text"]
    assert "gpubot restarted during this diagnosis" in text and "(msg_too_long)" in text
    assert "Diagnosing aks-inference (20 checks)" in text and "/gpu" in text
    assert f"resumed job {job.id} failed" in caplog.text
    if ephemeral == "refused":
        assert f"could not tell U123 that job {job.id} failed: channel_not_found" in caplog.text
    assert h.BOT_TOKEN not in caplog.text


def test_a_resumed_job_posts_only_the_thread_replies_its_first_run_had_not(tmp_path) -> None:
    """The first process updated the summary and posted 2 of its 5 detail replies, then died:
    the resumed run updates the same summary and posts replies 3 to 5, each once."""
    crashloop = ROOT / "tests/scenarios/inference-crashloop/confirmed"
    source = SnapshotSource(crashloop)
    diagnoser = Diagnoser(load_catalog(), lambda _n: source, [source.cluster.name])
    _, *replies = render_messages(diagnoser.run(None))
    assert len(replies) == 5
    with FakeSlack() as fake:
        running = h.start_bot(fake, crashloop, tmp_path, config=CONFIG, diagnoser=diagnoser)
        try:
            store, client = running.bot.store, running.bot.client
            ts = client.chat_postMessage(channel="CINFRA", text="summary")["ts"]
            job = store.jobs.create(_spec(), owner="dead-process")
            assert store.jobs.start(job.id, "dead-process")
            assert store.jobs.posted(job.id, "dead-process", "CINFRA", ts)
            assert store.jobs.begin_delivery(job.id, "dead-process")
            for i, reply in enumerate(replies[:2], start=1):
                client.chat_postMessage(channel="CINFRA", thread_ts=ts, text=reply["text"])
                assert store.jobs.replied(job.id, "dead-process", i)
            time.sleep(PAST_LEASE_S)  # ... and the process died here
            assert running.bot.jobs.sweep() == 1
            running.drain()
        finally:
            running.stop()
        row = store.jobs.get(job.id)
        thread = [c.args["text"] for c in fake.of("chat.postMessage") if c.args.get("thread_ts")]
        summaries = _summaries(fake)
    assert row.status == "done" and row.replies_posted == 5
    assert [s.args["ts"] for s in summaries] == [ts], "the same summary, updated in place"
    details = [t for t in thread if "re-ran it" not in t]
    assert details == [r["text"] for r in replies], "each reply once, in order"
    assert any("re-ran it" in t for t in thread)
