"""Issue 8 secret hygiene with a fix applied: canaries planted in every input never reach Slack,
any store table (fix_requests, fix_tokens and fix_audit included) or the DEBUG logs while a fix
is planned, confirmed, applied, verified and undone through signed Slack clicks.

The bot is `gpubot serve --http --config`'s own wiring (bot.cli.serve.build) on the live clients
against the loopback Kubernetes and Azure emulators and FakeSlack. The canaries and their
planting are tests/test_secret_hygiene_slack.py's; the workload the fix scales carries one in
its pod template too, so a plan or an undo record that copied the object would show it."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trustme
import yaml

from bot.cli import serve
from bot.slack.settings import SlackEnv
from tests import slack_harness as h
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator
from tests.emulators.slack_api import Call, FakeSlack
from tests.test_secret_hygiene_slack import (
    AZURE_TOKEN,
    BOT_TOKEN,
    CANARIES,
    KUBE_TOKEN,
    POD_ENV,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    _plant,
    _store_rows,
)
from tests.test_slack_fixes import (
    COLD,
    DIAGNOSIS_TS,
    POLICY,
    PREWARM,
    _buttons,
    _has_block,
    _payload,
    plain_cold_start,
)

TEMPLATE_ENV = "canary-template-env-value-90fe"  # in the scaled StatefulSet's pod template


def _plant_workload(snap: Path) -> None:
    path = snap / "kubernetes" / "statefulsets.json"
    doc = json.loads(path.read_text())
    for sts in doc["items"]:
        for container in sts["spec"]["template"]["spec"]["containers"]:
            container.setdefault("env", []).append({"name": "HF_TOKEN", "value": TEMPLATE_ENV})
    path.write_text(json.dumps(doc))


class Clicker:
    def __init__(self, url: str, fake: FakeSlack) -> None:
        self.url, self.fake, self.n = url, fake, 0

    def click(self, action_id: str, value: str, message_ts: str = DIAGNOSIS_TS) -> int:
        self.n += 1
        payload = _payload(
            action_id,
            value,
            "UALICE",
            "T0001",
            message_ts,
            DIAGNOSIS_TS,
            self.fake.response_url_for(self.n),
        )
        status, _ = h.signed_post(
            f"{self.url}/slack/events",
            urlencode({"payload": json.dumps(payload)}),
            content_type="application/x-www-form-urlencoded",
            secret=SIGNING_SECRET,
        )
        assert status == 200
        return self.n

    def posted(self, block_id: str, after: int) -> Call:
        """The next chat.postMessage holding `block_id`; fails quoting a refusal instead."""
        calls = self.fake.wait_for(
            lambda cs: any(
                _has_block(c, "chat.postMessage", block_id) or c.method == "response_url"
                for c in cs[after:]
            )
        )
        refusals = [c.args.get("text") for c in calls[after:] if c.method == "response_url"]
        assert not refusals, refusals
        return next(c for c in calls[after:] if _has_block(c, "chat.postMessage", block_id))

    def updated(self, ts: str, needle: str) -> Call:
        def match(c: Call) -> bool:
            return c.method == "chat.update" and c.args.get("ts") == ts and needle in str(c.args)

        return next(c for c in self.fake.wait_for(lambda cs: any(map(match, cs))) if match(c))


def test_canaries_never_leak_through_a_fix_applied_verified_and_undone(
    tmp_path, monkeypatch, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    snap = plain_cold_start(tmp_path)
    _plant(snap)
    _plant_workload(snap)
    monkeypatch.delenv("GPUBOT_CONFIG", raising=False)
    monkeypatch.delenv("GPUBOT_FIX_SIGNING_KEY", raising=False)
    with (
        FakeSlack() as fake,
        KubeApiEmulator(snap, missing_crd_status=403, token=KUBE_TOKEN) as kube,
        AzureEmulator(snap, token=AZURE_TOKEN, ca=trustme.CA()) as azure,
    ):
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        for name, value in azure.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GPUBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'gpubot.db'}")
        cluster = yaml.safe_load((COLD / "snapshot.yaml").read_text())["cluster"]
        policy: dict[str, Any] = {
            **POLICY,
            "verify": {"delay_seconds": 0, "every_seconds": 0.2, "window_seconds": 1},
        }
        config = tmp_path / "gpubot.yaml"
        doc = {"clusters": [{**cluster, "kube_context": "emulator"}], "fixes": policy}
        config.write_text(yaml.safe_dump(doc))
        env = SlackEnv(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            app_token=None,
            api_url=fake.url,
            webhook_secret=WEBHOOK_SECRET,
        )
        run = h.serve(
            *serve.build(argparse.Namespace(config=config, snapshot=None, http=True), env)
        )
        try:
            ui = Clicker(run.url, fake)
            offer = run.bot.guard.offer(
                cluster=cluster["name"],
                fix="prewarm-now",
                params=PREWARM,
                playbook="cold-start",
                scope="default/workspace-llama-3-1-8b",
            )
            ui.click("fix:prewarm-now:0", offer)
            plan = ui.posted("fixplan:head", 0)
            plan_ts = str(plan.reply["ts"])
            ui.click("guard:confirm", _buttons(plan)["confirm"], plan_ts)
            applied = ui.updated(plan_ts, "Applied by <@UALICE>")
            ui.posted("fixverify:result", 0)

            after = len(fake.calls)
            ui.click("guard:undo", _buttons(applied)["undo"], plan_ts)
            undo = ui.posted("fixplan:head", after)
            undo_ts = str(undo.reply["ts"])
            ui.click("guard:confirm", _buttons(undo)["confirm"], undo_ts)
            ui.updated(undo_ts, "Undone by <@UALICE>")
            run.drain()
            rows = _store_rows(run)
            ledger = run.bot.store.ledger
            trail = [r.action for r in ledger.audit_trail()]
            statuses = [r.status for r in ledger.requests()]
        finally:
            run.stop()
        scale_writes = [w for w in kube.writes if w.path.endswith("/scale")]
        assert len(scale_writes) == 2, "applied, then undone"
        assert not kube.seen("GET", ".*secrets.*"), "gpubot never asks for Secret objects"
        assert kube.seen("GET", ".*statefulsets.*"), "the workload with a canary was read"
    assert trail.count("planned") == trail.count("applied") == 2, trail  # the fix and its undo
    assert statuses == ["undone", "applied"], statuses
    assert any(a in trail for a in ("verified", "still_failing", "pending")), trail
    # The planting worked: the tokens were in use, the rows exist.
    assert any(f"Bearer {BOT_TOKEN}" in c.headers.get("Authorization", "") for c in fake.calls)
    assert rows and POD_ENV in json.dumps(json.loads((snap / "kubernetes/pods.json").read_text()))
    bodies = [json.dumps(c.args, ensure_ascii=False) for c in fake.calls]
    outputs = {"slack": "\n".join(bodies), "store": "\n".join(rows), "logs": caplog.text}
    canaries = [*CANARIES, TEMPLATE_ENV]
    leaked = {where: [c for c in canaries if c in text] for where, text in outputs.items()}
    assert leaked == {"slack": [], "store": [], "logs": []}
