"""A fix whose process dies mid-apply is flagged within about one lease; a slow one that is alive
is never taken for dead.

The apply's heartbeat renews its lease (bot.engine.lease); every `gpubot serve` sweeps for lapsed
leases (bot.slack.fixes.FixFlow.start_sweep). The process test runs two real `gpubot serve
--http` processes on one SQLite store against the loopback emulators and drives them with
signed Slack clicks; writes are counted at the emulator.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from pydantic import ValidationError

from bot.engine.guard import FixGuard
from bot.engine.lease import Heartbeat
from bot.engine.tokens import TokenSigner
from bot.model.fixpolicy import FixPolicy
from bot.store.db import Store
from tests import slack_harness as h
from tests.guard_harness import LENA, ROOT, LiveCluster, audit_actions, offered, policy
from tests.test_slack_fixes import DIAGNOSIS_TS, _buttons, _has_block, _payload, _text

HANG = 60  # seconds: a hang guard, never a speed requirement


@pytest.fixture
def cluster(tmp_path, ca, monkeypatch, catalog):
    cluster = LiveCluster.start("quota-exhausted/confirmed", tmp_path, ca, monkeypatch, catalog)
    yield cluster
    cluster.stop()


def wait_until(done: Any, what: str, timeout: float = HANG) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ---- the heartbeat, in one process -------------------------------------------------------------


def test_a_heartbeating_apply_older_than_the_lease_is_not_taken_for_dead(cluster, tmp_path):
    """ARM holds the write for several leases: another replica's sweep meanwhile finds the
    request alive (its heartbeat renews the lease), and the apply ends `applied`, once."""
    url = f"sqlite:///{tmp_path / 'gpubot.db'}"
    short = policy(apply_lease_seconds=1.0, apply_heartbeat_seconds=0.2)
    applying = cluster.guard(Store.open(url), short)
    params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
    planned = applying.plan(cluster=cluster.name, fix="request-quota", params=params, actor=LENA)
    cluster.arm.slow("quota", 4.0)  # a slow ARM: the write takes four leases
    outcomes: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(applying.confirm(planned.buttons["confirm"], LENA))
    )
    worker.start()
    wait_until(lambda: cluster.arm_writes(), "the write to reach ARM")

    other = cluster.guard(Store.open(url, migrate=False), short)  # another replica
    swept: list[Any] = []
    while worker.is_alive():  # sweep as often as a replica would, for the whole apply
        swept += other.recover()
        time.sleep(0.2)
    worker.join(HANG)

    assert swept == [], "a running apply was taken for dead"
    (outcome,) = outcomes
    assert outcome.status == "applied", outcome.message
    actions = [a for a, _ in audit_actions(other.store, planned.request.id)]
    assert "interrupted" not in actions and actions.count("applied") == 1
    assert len(cluster.arm_writes()) == 1
    # The apply lasted longer than the lease, so the lease must have been renewed meanwhile.
    applied_at = other.ledger.audit_trail(request_id=planned.request.id, action="applied")[0].at
    started = other.ledger.audit_trail(request_id=planned.request.id, action="applying")[0].at
    assert applied_at - started > short.apply_lease


def test_the_heartbeat_stops_once_a_sweep_gave_the_request_up(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
    ledger = store.ledger
    request_id = ledger.new_request(
        fix="request-quota", cluster="c", risk="low", params={}, status="applying"
    )
    with Heartbeat(lambda: ledger.renew_lease(request_id), every_seconds=0.05, name="t") as beat:
        wait_until(lambda: beat.beats >= 2, "two beats")
        assert ledger.transition(request_id, "applying", "interrupted")
        given_up = ledger.request(request_id).updated_at
        wait_until(lambda: not beat._thread.is_alive(), "the heartbeat to stop")
    assert ledger.request(request_id).status == "interrupted"
    assert ledger.request(request_id).updated_at == given_up, "a dead lease was renewed"


def test_the_lease_must_leave_room_for_missed_beats() -> None:
    with pytest.raises(ValidationError, match="at most half"):
        FixPolicy(apply_lease_seconds=30, apply_heartbeat_seconds=20)
    defaults = FixPolicy()
    assert (defaults.apply_lease_seconds, defaults.apply_heartbeat_seconds) == (90, 20)


# ---- two real `gpubot serve` processes ---------------------------------------------------------

LEASE, BEAT = 2.0, 0.25  # seconds; the defaults are 90 and 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """One `python -m bot serve --http` process, its log in a file (a pipe could fill up)."""

    def __init__(self, name: str, tmp: Path, config: Path, env: dict[str, str]) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp / f"{name}.log"
        argv = [sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--config", str(config), "--log-format", "text"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
        wait_until(self._healthy, f"{name} to answer /healthz")

    def _healthy(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def click(served: Served, fake: Any, n: int, action_id: str, value: str, message_ts: str) -> None:
    payload = _payload(
        action_id, value, "ULENA", "T0001", message_ts, DIAGNOSIS_TS, fake.response_url_for(n)
    )
    status, _ = h.signed_post(
        f"{served.url}/slack/events",
        urlencode({"payload": json.dumps(payload)}),
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200


@pytest.mark.parametrize("when", ["replica-already-running", "restarted-after-the-kill"])
def test_a_serve_process_killed_mid_apply_is_flagged_by_another_within_a_lease(
    cluster, tmp_path, when
) -> None:
    """`replica-already-running`: a second replica starts two leases into the apply (the
    heartbeat keeps the apply alive), then the first is killed. `restarted-after-the-kill`:
    the process is killed and a new one started on the same store, as a Deployment restarts a
    pod; its start-up sweep or the next one flags the apply, whatever the start-up time."""
    from tests.emulators.slack_api import FakeSlack

    url = f"sqlite:///{tmp_path / 'store.db'}"
    config = tmp_path / "serve.yaml"
    doc = yaml.safe_load(cluster.config.read_text())
    doc["fixes"] = {
        "team_id": "T0001",
        "allow": {"low": ["ULENA"]},
        "apply_lease_seconds": LEASE,
        "apply_heartbeat_seconds": BEAT,
    }
    config.write_text(yaml.safe_dump(doc))
    served: list[Served] = []
    with FakeSlack() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.pop("GPUBOT_FIX_SIGNING_KEY", None)  # both derive the key from the signing secret
        env.update(
            SLACK_BOT_TOKEN=h.BOT_TOKEN,
            SLACK_SIGNING_SECRET=h.SIGNING_SECRET,
            GPUBOT_SLACK_API_URL=fake.url,
            GPUBOT_DATABASE_URL=url,
            GPUBOT_WEBHOOK_SECRET=h.WEBHOOK_SECRET,
        )
        try:
            first = Served("first", tmp_path, config, env)
            served.append(first)
            # The diagnosis's fix button, minted as bot/slack/offers.py does, in the shared store.
            minter = FixGuard(
                store=Store.open(url, migrate=False),
                policy=FixPolicy(),
                contexts=lambda _c: None,  # type: ignore[arg-type,return-value]
                signer=TokenSigner.from_env({"SLACK_SIGNING_SECRET": h.SIGNING_SECRET}),
                actuators={},
            )
            params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
            offer = minter.offer(
                cluster=cluster.name, fix="request-quota", params=params, playbook="quota-exhausted"
            )
            click(first, fake, 1, "fix:request-quota:0", offer, DIAGNOSIS_TS)
            fake.wait_for(
                lambda cs: any(_has_block(c, "chat.postMessage", "fixplan:head") for c in cs)
            )
            plan = next(c for c in fake.calls if _has_block(c, "chat.postMessage", "fixplan:head"))
            plan_ts, confirm = str(plan.reply["ts"]), _buttons(plan)["confirm"]

            cluster.arm.slow("quota", 120)  # ARM receives the write and never answers in time
            click(first, fake, 2, "guard:confirm", confirm, plan_ts)
            wait_until(lambda: cluster.arm_writes(), "the write to reach ARM")
            store = Store.open(url, migrate=False)
            (request,) = store.ledger.requests(status="applying")

            if when == "replica-already-running":
                # A second replica starts while the first is still applying, more than a lease
                # after the apply began: the heartbeat keeps the apply its own.
                trail = store.ledger.audit_trail(request_id=request.id, action="applying")
                wait_until(
                    lambda: datetime.now(UTC) - trail[0].at > timedelta(seconds=2 * LEASE),
                    "two leases to pass",
                )
                second = Served("second", tmp_path, config, env)
                served.append(second)
                assert "fix guard ready; 0 interrupted fix(es) flagged" in second.log.read_text()
                assert store.ledger.request(request.id).status == "applying"
                first.kill()  # mid-apply: the write is in flight at the emulator
            else:
                first.kill()  # mid-apply, then the restart
                second = Served("second", tmp_path, config, env)
                served.append(second)
            note = fake.wait_for(
                lambda cs: any(_has_block(c, "chat.postMessage", "fixinterrupted") for c in cs)
            )
            (flagged,) = [c for c in note if _has_block(c, "chat.postMessage", "fixinterrupted")]
            assert flagged.args["channel"] == "CINFRA" and flagged.args["thread_ts"] == DIAGNOSIS_TS
            assert request.id in _text(flagged) and "not re-applied" in _text(flagged)
            assert store.ledger.request(request.id).status == "interrupted"

            audit = subprocess.run(
                [sys.executable, "-m", "bot", "audit", "--request", request.id, "--json"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=HANG,
                check=True,
            )
            trail = [(r["action"], r["actor"]) for r in json.loads(audit.stdout)]
            assert trail == [("planned", "ULENA"), ("applying", "ULENA"), ("interrupted", "gpubot")]
            assert audit_actions(store, request.id) == trail

            # The spent Confirm, clicked again on the surviving replica, writes nothing.
            click(second, fake, 3, "guard:confirm", confirm, plan_ts)
            fake.wait_for(lambda cs: any(c.path == "/response/3" for c in cs))
            (refused,) = [c for c in fake.calls if c.path == "/response/3"]
            assert refused.args["response_type"] == "ephemeral"
            assert "already used" in refused.args["text"]
            assert len(cluster.arm_writes()) == 1, "the emulator saw exactly one write"
            assert store.ledger.request(request.id).status == "interrupted"
        finally:
            for s in served:
                s.stop()
