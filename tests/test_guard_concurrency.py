"""Exactly once under concurrency and across restarts, through the real actuators and store:
20 confirmations racing (threads; two app instances sharing PostgreSQL) give one write at the
emulator; a request a dead process left `applying` is marked interrupted and never applied
again; a pending approval outlives the guard that asked for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from bot.engine.tokens import TokenSigner
from bot.store.db import Store
from tests.guard_harness import (
    ALICE,
    BOB,
    LENA,
    OPERATOR,
    ROOT,
    SECOND_OPERATOR,
    LiveCluster,
    audit_actions,
    offered,
)

N = 20


@pytest.fixture
def cluster(tmp_path, ca, monkeypatch, catalog):
    cluster = LiveCluster.start("quota-exhausted/confirmed", tmp_path, ca, monkeypatch, catalog)
    yield cluster
    cluster.stop()


def race(n: int, fn) -> list:
    """Run fn(i) on n threads released together; their results."""
    start, results, lock = threading.Barrier(n), [], threading.Lock()

    def run(i: int) -> None:
        start.wait(timeout=30)
        outcome = fn(i)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def quota_plan(cluster: LiveCluster, guard):
    params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
    return guard.plan(cluster=cluster.name, fix="request-quota", params=params, actor=LENA)


def instances(store_url: str, cluster: LiveCluster, count: int) -> list:
    """`count` app instances: each its own engine on the shared database and its own guard."""
    return [cluster.guard(Store.open(store_url, migrate=i == 0)) for i in range(count)]


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_twenty_confirmations_of_one_button_write_once(cluster, store_url) -> None:
    # SQLite: one app instance, 20 threads. PostgreSQL: two instances (a redelivered click
    # reaching each replica), 10 threads each.
    guards = instances(store_url, cluster, 2 if store_url.startswith("postgresql") else 1)
    planned = quota_plan(cluster, guards[0])
    value = planned.buttons["confirm"]
    outcomes = race(N, lambda i: guards[i % len(guards)].confirm(value, LENA))
    statuses = Counter(o.status for o in outcomes)
    assert statuses == {"applied": 1, "refused": N - 1}, statuses
    assert len(cluster.arm_writes()) == 1
    late = ("already used", "no longer waiting for confirmation")
    refused = [o.message for o in outcomes if o.status == "refused"]
    assert all(any(why in m for why in late) for m in refused), refused[:3]
    trail = audit_actions(guards[0].store, planned.request.id)
    assert trail.count(("applied", LENA.id)) == 1
    assert trail.count(("refused", LENA.id)) == N - 1


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_twenty_separate_plans_for_one_target_on_two_instances_write_once(
    cluster, store_url
) -> None:
    """Twenty people each open the plan and confirm at once, on two replicas: each request
    is its own, so only the target's hold in the shared store keeps it to one write."""
    guards = instances(store_url, cluster, 2)
    plans = [quota_plan(cluster, guards[i % 2]) for i in range(N)]
    assert len({p.request.id for p in plans}) == N
    outcomes = race(N, lambda i: guards[i % 2].confirm(plans[i].buttons["confirm"], LENA))
    statuses = Counter(o.status for o in outcomes)
    assert statuses == {"applied": 1, "refused": N - 1}, statuses
    assert len(cluster.arm_writes()) == 1
    busy = [o.message for o in outcomes if o.status == "refused"]
    assert all("changed by gpubot recently" in m for m in busy), busy[:3]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_pending_approval_survives_a_new_app_instance(cluster, store_url) -> None:
    first = cluster.guard(Store.open(store_url))
    params = {"pool": "gpua100", "min_count": 1}
    planned = first.plan(cluster=cluster.name, fix="pool-min-count", params=params, actor=ALICE)
    requested = first.confirm(planned.buttons["confirm"], ALICE)
    assert requested.status == "requested" and cluster.writes() == []
    del first  # the replica that asked restarts

    again = cluster.guard(Store.open(store_url))
    assert again.recover() == [], "an approval waiting is not an interrupted apply"
    applied = again.approve(requested.buttons["approve"], BOB)
    assert applied.status == "applied", applied.message
    assert applied.request.requester == ALICE.id and applied.request.approver == BOB.id
    assert len(cluster.arm_writes()) == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_terminal_approval_needs_no_shared_signing_key(cluster, store_url) -> None:
    """`gpubot fix approve ID` runs in another process with its own key: it presses the
    request's stored button, with the same expiry and single use."""
    first = cluster.guard(Store.open(store_url))
    params = {"pool": "gpua100", "min_count": 1}
    planned = first.plan(cluster=cluster.name, fix="pool-min-count", params=params, actor=OPERATOR)
    assert first.confirm_request(planned.request.id, OPERATOR).status == "requested"
    other = cluster.guard(Store.open(store_url))
    other.signer = other.records.signer = TokenSigner(os.urandom(32))
    applied = other.approve_request(planned.request.id, SECOND_OPERATOR)
    assert applied.status == "applied", applied.message
    replay = other.approve_request(planned.request.id, SECOND_OPERATOR)
    assert replay.status == "refused" and "already used" in replay.message
    assert len(cluster.arm_writes()) == 1


def test_restart_mid_apply_marks_interrupted_and_never_applies_again(
    cluster, tmp_path, monkeypatch
) -> None:
    """A `gpubot fix apply` process dies while its write is in flight (the emulator holds
    the PUT): the request is left `applying`; after the restart it is interrupted, audited,
    and no button or terminal command applies it again."""
    url = f"sqlite:///{tmp_path / 'gpubot.db'}"
    cluster.arm.slow("quota", 60)  # the write reaches the emulator, which never answers it
    config = tmp_path / "fixes.yaml"
    config.write_text(
        cluster.config.read_text()
        + "fixes:\n  allow: {low: ['local:ops-one']}\n  operator: ops-one\n"
    )
    params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
    argv = [sys.executable, "-m", "bot.cli.main", "fix", "apply", "request-quota", "--yes"]
    argv += ["--config", str(config), "--target"]
    argv += [f"{k}={v}" for k, v in params.items()]
    env = {**os.environ, "GPUBOT_DATABASE_URL": url}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not cluster.arm_writes() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.05)
        assert len(cluster.arm_writes()) == 1, "the apply reached the emulator"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    store = Store.open(url)
    (request,) = store.ledger.requests(status="applying")
    restarted = cluster.guard(store)
    # A replica starting up leaves a fresh apply alone (another replica may be running it);
    # this one is known dead, so the lease is waived.
    assert restarted.recover() == []
    assert [r.id for r in restarted.recover(older_than=timedelta(0))] == [request.id]
    assert store.ledger.request(request.id).status == "interrupted"
    actions = audit_actions(store, request.id)
    assert ("interrupted", "gpubot") in actions and ("applied", OPERATOR.id) not in actions
    assert restarted.recover(older_than=timedelta(0)) == [], "recovering twice changes nothing"

    for attempt in (
        lambda: restarted.confirm_request(request.id, OPERATOR),
        lambda: restarted.approve_request(request.id, SECOND_OPERATOR),
    ):
        assert attempt().status == "refused"
    assert len(cluster.arm_writes()) == 1, "never applied again"
