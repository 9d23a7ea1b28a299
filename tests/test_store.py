"""The store on SQLite and PostgreSQL: migrations, exactly-once keys and claims across replicas."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.store.db import Store


def _race(n: int, fn) -> list[bool]:
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait(timeout=30)
        ok = fn(i)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_migrations_apply_twice_without_harm(store_url) -> None:
    Store.open(store_url)
    store = Store.open(store_url)  # a second replica starting up
    assert store.first_time("x")


def test_dedupe_key_is_first_exactly_once_across_two_replicas(store_url) -> None:
    replicas = [Store.open(store_url), Store.open(store_url, migrate=False)]
    results = _race(20, lambda i: replicas[i % 2].first_time("event:Ev123"))
    assert results.count(True) == 1 and len(results) == 20


def test_claim_is_won_once_and_expired_claims_can_be_taken_over(store_url) -> None:
    a, b = Store.open(store_url), Store.open(store_url, migrate=False)
    results = _race(20, lambda i: (a if i % 2 else b).claim("morning:aks:2026-11-27", f"r{i}"))
    assert results.count(True) == 1
    assert a.claim("fix:1", "alice", ttl=timedelta(seconds=-1))  # already expired
    assert b.claim("fix:1", "bob", ttl=timedelta(minutes=5))
    assert not a.claim("fix:1", "carol", ttl=timedelta(minutes=5))
    assert a.claim_owner("fix:1") == "bob"


def test_alert_threads_group_firings(store_url) -> None:
    store = Store.open(store_url)
    assert store.open_alert_thread("fp1", "C1", "1700000000.000100")
    assert not store.open_alert_thread("fp1", "C1", "1700000099.000100")
    store.touch_alert_thread("fp1", "firing")
    store.touch_alert_thread("fp1", "resolved")
    thread = store.alert_thread("fp1")
    assert thread is not None and thread.thread_ts == "1700000000.000100"
    assert thread.firings == 2 and thread.status == "resolved"


def test_snoozes_expire_and_acks_stay(store_url) -> None:
    store = Store.open(store_url)
    now = datetime.now(UTC)
    store.acknowledge(cluster="aks", playbook="cold-start", kind="ack", user_id="U1", until=None)
    store.acknowledge(
        cluster="aks",
        playbook="spot-eviction",
        kind="snooze",
        user_id="U2",
        until=now + timedelta(hours=1),
    )
    store.acknowledge(
        cluster="aks",
        playbook="slow-image-pull",
        kind="snooze",
        user_id="U2",
        until=now - timedelta(hours=1),
    )
    active = store.active_acks("aks", now)
    assert set(active) == {"cold-start", "spot-eviction"}
    assert active["spot-eviction"].until is not None
    assert store.active_acks("other", now) == {}
