"""Durable diagnosis jobs in the store, on SQLite and PostgreSQL: leases, the orphan claim two
replicas race for, the delivery fence, and alert threads that count a resumed firing once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from bot.store.db import Store
from bot.store.jobs import JobSpec

LEASE = timedelta(seconds=1)
PAST_LEASE_S = 1.3  # sleep this long for a heartbeat to be older than LEASE


def _spec(**kw) -> JobSpec:
    return JobSpec(
        trigger="slash",
        channel="CINFRA",
        title="Diagnosing aks-inference (20 checks)",
        total=20,
        runbook="triage",
        requester="U123",
        **kw,
    )


def _race(n: int, fn) -> list:
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait(timeout=30)
        got = fn(i)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == n, "a racer hung"
    return results


def test_two_replicas_racing_claim_each_orphan_once(store_url) -> None:
    replicas = [Store.open(store_url), Store.open(store_url, migrate=False)]
    jobs = [replicas[0].jobs.create(_spec(), owner="dead-process") for _ in range(5)]
    time.sleep(PAST_LEASE_S)
    assert {j.id for j in replicas[1].jobs.orphans(LEASE)} == {j.id for j in jobs}
    for job in jobs:
        # eight sweepers on two replicas claim the same orphan at the same moment
        won = _race(8, lambda i, j=job: replicas[i % 2].jobs.claim(j.id, f"sweeper-{i}", LEASE))
        winners = [w for w in won if w is not None]
        assert len(winners) == 1, f"{len(winners)} sweepers took job {job.id}"
        row = replicas[0].jobs.get(job.id)
        assert row.owner == winners[0].owner and row.attempts == 2
    assert replicas[0].jobs.orphans(LEASE) == []  # freshly claimed: heartbeats are new


def test_a_heartbeating_job_is_never_taken_and_a_silent_one_is(store_url) -> None:
    live, other = Store.open(store_url), Store.open(store_url, migrate=False)
    job = live.jobs.create(_spec(), owner="live-process")
    assert live.jobs.start(job.id, "live-process")
    deadline = time.monotonic() + 2 * LEASE.total_seconds()
    while time.monotonic() < deadline:  # well past one lease, renewed all along
        assert live.jobs.heartbeat("live-process") == 1
        assert other.jobs.orphans(LEASE) == []
        assert other.jobs.claim(job.id, "thief", LEASE) is None
        time.sleep(0.2)
    time.sleep(PAST_LEASE_S)  # the owner stops renewing, as a killed process does
    assert [o.id for o in other.jobs.orphans(LEASE)] == [job.id]
    taken = other.jobs.claim(job.id, "rescuer", LEASE)
    assert taken is not None and taken.owner == "rescuer" and taken.status == "running"
    assert live.jobs.heartbeat("live-process") == 0  # it renews only what it still holds


def test_a_finished_job_is_never_resumed(store_url) -> None:
    store = Store.open(store_url)
    ends = {"done": None, "failed": "ConnectionError", "gave_up": "restarted during 2 runs"}
    jobs = {}
    for end, reason in ends.items():
        jobs[end] = store.jobs.create(_spec(), owner="p1")
        assert store.jobs.start(jobs[end].id, "p1")
        assert store.jobs.finish(jobs[end].id, "p1", end, reason=reason)
    time.sleep(PAST_LEASE_S)
    assert store.jobs.orphans(LEASE) == []
    for end, job in jobs.items():
        assert store.jobs.claim(job.id, "p2", LEASE) is None
        # finished is final, for the owner too
        assert not store.jobs.start(job.id, "p1")
        assert not store.jobs.finish(job.id, "p1", "failed", "again")
        assert store.jobs.get(job.id).status == end


def test_only_the_current_owner_may_deliver(store_url) -> None:
    """A process whose lease lapsed (a long pause, a lost database) and whose job another
    replica took must not post a second summary when it wakes up."""
    store = Store.open(store_url)
    job = store.jobs.create(_spec(), owner="slow")
    assert store.jobs.start(job.id, "slow")
    assert store.jobs.posted(job.id, "slow", "CINFRA", "1764230001.000100")
    time.sleep(PAST_LEASE_S)
    taken = store.jobs.claim(job.id, "rescuer", LEASE)
    assert taken is not None and taken.progress_ts == "1764230001.000100"
    assert not store.jobs.begin_delivery(job.id, "slow")
    assert not store.jobs.finish(job.id, "slow", "done")
    assert store.jobs.start(job.id, "rescuer") and store.jobs.begin_delivery(job.id, "rescuer")
    assert not store.jobs.begin_delivery(job.id, "rescuer")  # the fence opens once
    assert store.jobs.finish(job.id, "rescuer", "done")


def test_replies_posted_are_kept_for_the_same_summary_and_reset_for_another(store_url) -> None:
    """A job that dies while threading its details: the replies it posted survive the claim,
    and count only while the resumed run delivers into the same summary message."""
    store = Store.open(store_url)
    job = store.jobs.create(_spec(), owner="dying")
    assert job.replies_posted == 0
    assert store.jobs.start(job.id, "dying")
    assert store.jobs.posted(job.id, "dying", "CINFRA", "1764230001.000100")
    assert not store.jobs.replied(job.id, "dying", 1), "no replies before the fence"
    assert store.jobs.begin_delivery(job.id, "dying")
    assert store.jobs.replied(job.id, "dying", 1) and store.jobs.replied(job.id, "dying", 2)
    assert not store.jobs.replied(job.id, "someone-else", 5), "only the owner records"
    time.sleep(PAST_LEASE_S)
    taken = store.jobs.claim(job.id, "rescuer", LEASE)
    assert taken is not None and taken.replies_posted == 2
    assert not store.jobs.replied(job.id, "dying", 3), "the old owner no longer records"
    assert store.jobs.start(job.id, "rescuer")
    # the resumed run updates the same message: the two replies under it still count
    assert store.jobs.posted(job.id, "rescuer", "CINFRA", "1764230001.000100")
    assert store.jobs.get(job.id).replies_posted == 2
    # it had to post a new one (the old was deleted): nothing is under the new one yet
    assert store.jobs.posted(job.id, "rescuer", "CINFRA", "1764230009.000100")
    assert store.jobs.get(job.id).replies_posted == 0
    assert store.jobs.begin_delivery(job.id, "rescuer")
    assert store.jobs.replied(job.id, "rescuer", 5) and store.jobs.finish(job.id, "rescuer", "done")
    assert not store.jobs.replied(job.id, "rescuer", 6), "a finished job is not written"
    assert store.jobs.get(job.id).replies_posted == 5


def test_a_claim_handed_back_is_an_orphan_again_without_an_attempt(store_url) -> None:
    store = Store.open(store_url)
    job = store.jobs.create(_spec(), owner="dead")
    time.sleep(PAST_LEASE_S)
    claimed = store.jobs.claim(job.id, "busy-replica", LEASE)
    assert claimed is not None and claimed.attempts == 2
    store.jobs.release(job.id, "busy-replica")
    again = store.jobs.orphans(LEASE)
    assert [o.id for o in again] == [job.id] and again[0].attempts == 1


def test_the_job_row_keeps_what_a_rerun_needs(store_url) -> None:
    store = Store.open(store_url)
    spec = JobSpec(
        trigger="webhook",
        channel="CALERTS",
        title="Triage for KaitoWorkspaceNotReady (4 checks)",
        total=4,
        cluster="aks-inference",
        playbooks=["quota-exhausted", "sku-unavailable", "pod-pending", "inference-crashloop"],
        namespace="default",
        workspace="workspace-llama",
        alert_fingerprint="f" * 32,
        alert_name="KaitoWorkspaceNotReady",
        alert_status="firing",
    )
    job = store.jobs.create(spec, owner="p1")
    again = store.jobs.get(job.id)
    assert again.spec == spec and again.status == "queued" and again.attempts == 1
    assert store.jobs.set_thread(job.id, "p1", "CALERTS", "1764230002.000100")
    moved = store.jobs.get(job.id)
    assert (moved.channel, moved.thread_ts, moved.status) == (
        "CALERTS",
        "1764230002.000100",
        "running",
    )


def test_prune_forgets_old_finished_jobs_only(store_url) -> None:
    store = Store.open(store_url)
    done = store.jobs.create(_spec(), owner="p1")
    store.jobs.finish(done.id, "p1", "done")
    running = store.jobs.create(_spec(), owner="p1")
    time.sleep(0.05)
    store.prune(timedelta(0))
    assert store.jobs.get(done.id) is None
    assert store.jobs.get(running.id) is not None  # unfinished work is never pruned


def test_a_resumed_job_counts_its_alert_firing_once(store_url) -> None:
    store = Store.open(store_url)
    assert store.open_alert_thread("fp", "CALERTS", "1.0", job="job-1")
    assert not store.touch_alert_thread("fp", "firing", job="job-1")  # job-1 opened it
    assert store.touch_alert_thread("fp", "firing", job="job-2")
    assert not store.touch_alert_thread("fp", "firing", job="job-2")  # job-2 resumed
    assert store.alert_thread("fp").firings == 2
