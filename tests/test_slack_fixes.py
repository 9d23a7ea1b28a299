"""Guarded fixes from Slack, end to end: signed clicks into `gpubot serve`'s own wiring (Bolt, the
real guard, a SQLite store, the real actuators) against the loopback Kubernetes and Azure
emulators and the fake Slack Web API. Writes are counted at the emulators, never in Python."""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from bot.cli import serve
from bot.slack.settings import SlackEnv
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator
from tests.emulators.slack_api import Call, FakeSlack

COLD = ROOT / "tests/scenarios/cold-start/confirmed"
STS = "statefulset/workspace-llama-3-1-8b"
PREWARM = {"namespace": "default", "workload": STS, "replicas": 1}
DIAGNOSIS_TS = "1764230000.000100"  # the diagnosis message the fix button sits on
# Alice may apply low-risk fixes, so may the S0GPUOPS group; Bob and Carol any risk; only Carol
# approves high-risk ones. Re-checks run at once (no sleeping in tests).
POLICY: dict[str, Any] = {
    "team_id": "T0001",
    "allow": {"low": ["UALICE", "S0GPUOPS"], "high": ["UBOB", "UCAROL"]},
    "approvers": ["UCAROL"],
    "cooldown_minutes": 0,
    "verify": {"delay_seconds": 0, "every_seconds": 0, "window_seconds": 0},
}


@dataclass
class Rig:
    run: h.Running
    fake: FakeSlack
    kube: KubeApiEmulator
    azure: AzureEmulator
    clicks: int = 0
    thread: str = DIAGNOSIS_TS  # the diagnosis message: fix messages go to its thread

    @property
    def guard(self) -> Any:
        return self.run.bot.guard

    def offer(self, fix: str = "prewarm-now", params: dict | None = None) -> str:
        """What the diagnosis's fix button carries (bot/slack/offers.py mints it the same way)."""
        return self.guard.offer(
            cluster="aks-inference",
            fix=fix,
            params=params or PREWARM,
            playbook="cold-start",
            scope="default/workspace-llama-3-1-8b",
        )

    def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        team: str = "T0001",
        message_ts: str = DIAGNOSIS_TS,
    ) -> int:
        """A signed block_actions payload as Slack sends it; returns the click's number."""
        self.clicks += 1
        url = self.fake.response_url_for(self.clicks)
        payload = _payload(action_id, value, user, team, message_ts, self.thread, url)
        status, _ = h.signed_post(
            f"{self.run.url}/slack/events",
            urlencode({"payload": json.dumps(payload)}),
            content_type="application/x-www-form-urlencoded",
        )
        assert status == 200  # acked, whatever the guard decides later
        return self.clicks

    def replies(self, click: int) -> list[Call]:
        return [c for c in self.fake.of("response_url") if c.path == f"/response/{click}"]

    def wait_reply(self, click: int) -> Call:
        path = f"/response/{click}"
        self.fake.wait_for(lambda cs: any(c.path == path for c in cs))
        return self.replies(click)[0]

    def wait_post(self, block_id: str, after: int = 0, click: int | None = None) -> Call:
        """The next chat.postMessage (from call `after` on) holding a block with this id;
        fails at once, quoting it, if the click got an ephemeral refusal instead."""
        path = f"/response/{click}"
        calls = self.fake.wait_for(
            lambda cs: any(
                _has_block(c, "chat.postMessage", block_id) or c.path == path for c in cs[after:]
            )
        )
        refusals = [c.args.get("text") for c in calls[after:] if c.path == path]
        assert not refusals, f"the click was refused: {refusals}"
        return next(c for c in calls[after:] if _has_block(c, "chat.postMessage", block_id))

    def wait_update(self, ts: str, needle: str) -> Call:
        def match(c: Call) -> bool:
            return c.method == "chat.update" and c.args.get("ts") == ts and needle in _text(c)

        calls = self.fake.wait_for(lambda cs: any(match(c) for c in cs))
        return next(c for c in calls if match(c))

    def plan(self, user: str = "UALICE", value: str | None = None) -> tuple[str, dict[str, str]]:
        """Click a fix button; returns the plan message's ts and its button values."""
        after = len(self.fake.calls)
        click = self.click("fix:prewarm-now:0", value or self.offer(), user=user)
        posted = self.wait_post("fixplan:head", after, click)
        return str(posted.reply["ts"]), _buttons(posted)

    def scale_writes(self) -> list[Any]:
        return [w for w in self.kube.writes if w.path.endswith("/scale")]

    def replicas(self) -> int:
        sts = self.kube.store.find(_sts_resource(), "default", "workspace-llama-3-1-8b")
        return int(sts["spec"]["replicas"])

    def audit(self, action: str) -> list[Any]:
        return self.guard.ledger.audit_trail(action=action)


def _sts_resource() -> Any:
    from bot.sources.kube_paths import RESOURCES

    return RESOURCES["statefulsets"]


def _payload(
    action_id: str,
    value: str,
    user: str,
    team: str,
    message_ts: str,
    thread_ts: str,
    response_url: str,
) -> dict[str, Any]:
    thread = {} if message_ts == thread_ts else {"thread_ts": thread_ts}
    return {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A1",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": "CINFRA",
            **thread,
        },
        "channel": {"id": "CINFRA"},
        "message": {"ts": message_ts, "type": "message", **thread},
        "trigger_id": f"trig-{time.time_ns()}",
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "fixplan:actions",
                "value": value,
                "type": "button",
                "action_ts": str(time.time()),
            }
        ],
    }


def _text(call: Call) -> str:
    return json.dumps([call.args.get("text"), call.args.get("blocks")], ensure_ascii=False)


def _has_block(call: Call, method: str, block_id: str) -> bool:
    return call.method == method and any(
        b.get("block_id") == block_id for b in call.args.get("blocks") or []
    )


def _buttons(call: Call) -> dict[str, str]:
    return {
        e["action_id"].removeprefix("guard:"): e["value"]
        for b in call.args.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


def plain_cold_start(tmp: Path) -> Path:
    """The cold-start cluster with its inference StatefulSet run without KAITO (no owner) and
    scaled to zero overnight: prewarm-now scales that, and refuses a KAITO-owned one."""
    target = tmp / "cold-start"
    if not target.exists():
        shutil.copytree(COLD, target)
        path = target / "kubernetes" / "statefulsets.json"
        doc = json.loads(path.read_text(encoding="utf-8"))
        for item in doc["items"]:
            item["metadata"].pop("ownerReferences", None)
            item["spec"]["replicas"] = 0
        path.write_text(json.dumps(doc), encoding="utf-8")
    return target


@pytest.fixture
def rigs(tmp_path, monkeypatch, ca) -> Iterator[Callable[..., Rig]]:
    """Build `gpubot serve --http --config` (bot.cli.serve.build) over fresh emulators."""
    with ExitStack() as stack:
        fake = stack.enter_context(FakeSlack())

        def make(policy: dict[str, Any] | None = None, snapshot_mode: bool = False) -> Rig:
            cold = plain_cold_start(tmp_path)
            kube = stack.enter_context(KubeApiEmulator(cold))
            azure = stack.enter_context(AzureEmulator(cold, token="azure-token-not-secret", ca=ca))
            monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
            for name, value in azure.env().items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("GPUBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'gpubot.db'}")
            cluster = yaml.safe_load((COLD / "snapshot.yaml").read_text())["cluster"]
            config = tmp_path / "gpubot.yaml"
            doc = {"clusters": [{**cluster, "kube_context": "emulator"}], "fixes": policy or POLICY}
            config.write_text(yaml.safe_dump(doc))
            snapshot = cold if snapshot_mode else None
            args = argparse.Namespace(config=config, snapshot=snapshot, http=True)
            env = SlackEnv(
                bot_token=h.BOT_TOKEN,
                signing_secret=h.SIGNING_SECRET,
                app_token=None,
                api_url=fake.url,
                webhook_secret=h.WEBHOOK_SECRET,
            )
            run = h.serve(*serve.build(args, env))
            stack.callback(run.stop)
            return Rig(run, fake, kube, azure)

        yield make


# ---- the whole path ----------------------------------------------------------------------------


def test_plan_confirm_apply_verify_then_undo(rigs, monkeypatch) -> None:
    rig = rigs(
        {**POLICY, "verify": {"delay_seconds": 0, "every_seconds": 0.2, "window_seconds": 60}}
    )
    plan_ts, buttons = rig.plan()
    plan = rig.wait_post("fixplan:head")
    assert plan.args["thread_ts"] == DIAGNOSIS_TS  # in the finding's thread
    shown = _text(plan)
    assert "`spec.replicas`  `0` → `1`" in shown and "Risk: *low*" in shown
    assert set(buttons) == {"confirm", "cancel"} and rig.scale_writes() == []

    rig.click("guard:confirm", buttons["confirm"], user="UALICE", message_ts=plan_ts)
    applied = rig.wait_update(plan_ts, "Applied by <@UALICE>")
    assert "confirm" not in _buttons(applied) and "undo" in _buttons(applied)
    (write,) = rig.scale_writes()
    assert write.body["spec"]["replicas"] == 1 and rig.replicas() == 1
    rig.wait_post("fixverify:waiting")
    # The clock moves on as it would: the node that came up from zero is no longer cold.
    monkeypatch.setenv("GPUBOT_NOW", "2026-11-27T08:30:00Z")
    verified = rig.wait_post("fixverify:result")
    assert verified.args["thread_ts"] == DIAGNOSIS_TS
    assert _text(verified).startswith('["✅ Symptom gone')
    assert [r.action for r in rig.audit("verified")] == ["verified"]

    after = len(rig.fake.calls)
    rig.click("guard:undo", _buttons(applied)["undo"], user="UALICE", message_ts=plan_ts)
    undo = rig.wait_post("fixplan:head", after)
    assert "`spec.replicas`  `1` → `0`" in _text(undo)
    undo_ts = str(undo.reply["ts"])
    rig.click("guard:confirm", _buttons(undo)["confirm"], user="UALICE", message_ts=undo_ts)
    rig.wait_update(undo_ts, "Undone by <@UALICE>")
    assert len(rig.scale_writes()) == 2 and rig.replicas() == 0


def test_diagnosis_buttons_carry_signed_offers_that_open_a_plan(rigs) -> None:
    rig = rigs()
    status, _ = h.slash(rig.run.url, "diagnose", response_url=rig.fake.response_url)
    assert status == 200
    summary = rig.fake.wait_for(
        lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs)
    )
    head = next(c for c in summary if c.method == "chat.update" and c.args.get("blocks"))
    fix_buttons = [
        e
        for b in head.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("fix:")
    ]
    assert fix_buttons, "cold-start offers fixes"
    assert all(e["value"].startswith("gpf1.") for e in fix_buttons)  # no JSON to edit
    button = next(e for e in fix_buttons if e["action_id"].startswith("fix:pool-min-count"))
    after = len(rig.fake.calls)
    rig.thread = head.args["ts"]
    rig.click(button["action_id"], button["value"], user="UBOB", message_ts=rig.thread)
    plan = rig.wait_post("fixplan:head", after)
    assert plan.args["thread_ts"] == head.args["ts"]
    assert "minCount" in _text(plan) and "needs approval from <@UCAROL>" in _text(plan)
    assert rig.azure.writes() == [] and rig.kube.writes == []


# ---- refusals: zero writes, told to the clicker only, audited ------------------------------------


def _refused(rig: Rig, click: int, needle: str) -> None:
    reply = rig.wait_reply(click)
    assert reply.args["response_type"] == "ephemeral" and reply.args["replace_original"] is False
    assert needle in reply.args["text"]
    assert any(needle in (r.reason or "") for r in rig.audit("refused"))
    assert rig.scale_writes() == [] and rig.azure.writes() == []


@pytest.mark.parametrize(
    ("user", "team", "needle"),
    [
        ("UMALLORY", "T0001", "is not allowed to apply low-risk fixes"),
        ("UALICE", "T0OTHER", "is not in this bot's Slack workspace"),
    ],
    ids=["unauthorized", "other-team"],
)
def test_confirm_by_someone_not_allowed_is_refused(rigs, user, team, needle) -> None:
    rig = rigs()
    plan_ts, buttons = rig.plan()
    click = rig.click("guard:confirm", buttons["confirm"], user=user, team=team, message_ts=plan_ts)
    _refused(rig, click, needle)
    assert not any(c.method == "chat.update" for c in rig.fake.calls)  # the plan stays open


@pytest.mark.parametrize(
    "forge",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # an altered MAC
        lambda v: json.dumps({"playbook": "cold-start", "fix": "prewarm-now", "i": 0}),  # old JSON
    ],
    ids=["altered-mac", "plain-json"],
)
def test_forged_values_are_refused(rigs, forge) -> None:
    rig = rigs()
    plan_ts, buttons = rig.plan()
    click = rig.click("guard:confirm", forge(buttons["confirm"]), user="UALICE", message_ts=plan_ts)
    _refused(rig, click, "not one gpubot issued")


def test_a_replayed_confirm_is_refused(rigs) -> None:
    rig = rigs()
    plan_ts, buttons = rig.plan()
    rig.click("guard:confirm", buttons["confirm"], user="UALICE", message_ts=plan_ts)
    rig.wait_update(plan_ts, "Applied by <@UALICE>")
    assert len(rig.scale_writes()) == 1
    click = rig.click("guard:confirm", buttons["confirm"], user="UBOB", message_ts=plan_ts)
    reply = rig.wait_reply(click)
    assert reply.args["response_type"] == "ephemeral"
    assert "already used by <@UALICE>" in reply.args["text"]
    assert any("already used" in (r.reason or "") for r in rig.audit("refused"))
    assert len(rig.scale_writes()) == 1  # the replay wrote nothing


def test_an_expired_confirm_is_refused(rigs) -> None:
    rig = rigs({**POLICY, "confirm_minutes": 0.001})  # a plan may be confirmed for 60 ms
    plan_ts, buttons = rig.plan()
    time.sleep(0.2)
    click = rig.click("guard:confirm", buttons["confirm"], user="UALICE", message_ts=plan_ts)
    _refused(rig, click, "expired")


def test_high_risk_needs_a_second_person_and_the_requester_cannot_approve(rigs) -> None:
    rig = rigs()
    after = len(rig.fake.calls)
    pool = {"pool": "gpua100", "min_count": 1}
    rig.click("fix:pool-min-count:0", rig.offer("pool-min-count", pool), user="UBOB")
    plan = rig.wait_post("fixplan:head", after)
    plan_ts = str(plan.reply["ts"])
    rig.click("guard:confirm", _buttons(plan)["confirm"], user="UBOB", message_ts=plan_ts)
    rig.wait_update(plan_ts, "Awaiting approval")
    ask = rig.wait_post("fixrequest:text", after)
    assert "<@UBOB> asks to apply" in _text(ask) and "<@UCAROL>" in _text(ask)
    ask_ts, ask_buttons = str(ask.reply["ts"]), _buttons(ask)
    assert set(ask_buttons) == {"approve", "reject"}

    click = rig.click("guard:approve", ask_buttons["approve"], user="UBOB", message_ts=ask_ts)
    _refused(rig, click, "cannot approve their own request")

    rig.click("guard:approve", ask_buttons["approve"], user="UCAROL", message_ts=ask_ts)
    rig.wait_update(ask_ts, "Applied by <@UBOB>, approved by <@UCAROL>")
    assert len(rig.azure.writes()) == 1 and rig.kube.writes == []
    rig.wait_post("fixverify:result", after)


def test_group_membership_allows_a_member_and_a_failed_lookup_denies(rigs) -> None:
    rig = rigs()
    plan_ts, buttons = rig.plan()
    rig.fake.errors["usergroups.users.list"] = "plan_upgrade_required"
    click = rig.click("guard:confirm", buttons["confirm"], user="UDAVE", message_ts=plan_ts)
    _refused(rig, click, "not allowed")  # no members known: denied, not crashed
    del rig.fake.errors["usergroups.users.list"]
    rig.fake.usergroups["S0GPUOPS"] = ["UERIN", "UDAVE"]
    rig.click("guard:confirm", buttons["confirm"], user="UDAVE", message_ts=plan_ts)
    rig.wait_update(plan_ts, "Applied by <@UDAVE>")
    assert len(rig.scale_writes()) == 1
    asked = rig.fake.of("usergroups.users.list")
    assert len(asked) == 2 and {c.args["usergroup"] for c in asked} == {"S0GPUOPS"}


def test_the_same_confirm_delivered_five_times_applies_once(rigs) -> None:
    rig = rigs()
    plan_ts, buttons = rig.plan()
    threads = [
        threading.Thread(
            target=rig.click,
            args=("guard:confirm", buttons["confirm"]),
            kwargs={"user": "UALICE", "message_ts": plan_ts},
        )
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rig.wait_update(plan_ts, "Applied by <@UALICE>")
    rig.fake.wait_for(lambda cs: len([c for c in cs if c.method == "response_url"]) >= 4)
    assert len(rig.scale_writes()) == 1 and rig.replicas() == 1
    assert len(rig.audit("applied")) == 1


def test_a_snapshot_bot_shows_the_plan_and_says_it_cannot_apply(rigs) -> None:
    rig = rigs(snapshot_mode=True)
    _, buttons = rig.plan()
    plan = rig.wait_post("fixplan:head")
    assert buttons == {}  # no Confirm to press
    assert "cannot be applied here" in _text(plan) and "snapshot" in _text(plan)
    assert "`spec.replicas`  `0` → `1`" in _text(plan)


def test_a_bot_without_a_guard_answers_fix_buttons(tmp_path) -> None:
    with FakeSlack() as fake:
        run = h.start_bot(fake, COLD, tmp_path)
        try:
            payload = _payload(
                "fix:x:0", "{}", "UALICE", "T0001", DIAGNOSIS_TS, DIAGNOSIS_TS, fake.response_url
            )
            status, _ = h.signed_post(
                f"{run.url}/slack/events",
                urlencode({"payload": json.dumps(payload)}),
                content_type="application/x-www-form-urlencoded",
            )
            assert status == 200
            calls = fake.wait_for(lambda cs: any(c.method == "response_url" for c in cs))
            reply = next(c for c in calls if c.method == "response_url")
            assert "not enabled" in reply.args["text"]
            assert reply.args["response_type"] == "ephemeral"
        finally:
            run.stop()


def test_group_members_are_cached_for_the_policy_time_and_failures_are_not() -> None:
    from slack_sdk import WebClient

    from bot.slack.members import SlackGroupMembers

    with FakeSlack() as fake:
        now = [0.0]
        client = WebClient(token=h.BOT_TOKEN, base_url=fake.url)
        members = SlackGroupMembers(client, ttl_seconds=60, clock=lambda: now[0])
        fake.faults["usergroups.users.list"] = ["malformed"]
        assert members("S1") == frozenset()  # a broken answer denies
        fake.usergroups["S1"] = ["U1"]
        assert members("S1") == {"U1"}  # ...and was not cached
        fake.usergroups["S1"] = ["U2"]
        assert members("S1") == {"U1"}  # cached
        now[0] = 61
        assert members("S1") == {"U2"}
        assert len(fake.of("usergroups.users.list")) == 3


def test_an_apply_cut_short_by_a_restart_is_flagged_in_its_thread(rigs) -> None:
    from sqlalchemy import update

    from bot.store import tables

    rig = rigs()
    rig.plan()
    (request,) = rig.guard.ledger.requests(status="planned")
    # The last process won the claim and died mid-apply, an hour ago.
    assert rig.guard.ledger.transition(request.id, "planned", "applying")
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with rig.run.bot.store.engine.begin() as conn:
        conn.execute(update(tables.fix_requests).values(updated_at=hour_ago))
    flagged = rig.run.bot.fixes.recover()
    assert [r.id for r in flagged] == [request.id]
    note = rig.wait_post("fixinterrupted")
    assert note.args["thread_ts"] == DIAGNOSIS_TS and "not re-applied" in _text(note)
    assert rig.guard.ledger.request(request.id).status == "interrupted"
    assert rig.scale_writes() == []
