"""Issue 8 secret hygiene through the Slack bot: canaries planted in every input (the Slack
and webhook secrets, the kubeconfig and Azure tokens, a Secret object, pod env, ConfigMap
data, token-looking strings in an event, pod logs, Log Analytics rows and alert payloads)
never reach a Web API request body sent to Slack, a row of any store table, or the logs.

One live `/gpu diagnose`, one alert post triage and one webhook triage run through the real
clients against the emulators. Store tables are found by reflection, so a new table is
scanned without changing this test."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import urllib.request
from pathlib import Path

import trustme
import yaml
from sqlalchemy import MetaData, select

from bot.cli.wiring import diagnoser_for
from bot.slack.settings import SlackConfig, SlackEnv
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import KubeApiEmulator
from tests.emulators.slack_api import FakeSlack
from tests.test_slack import ALERTMANAGER_POST

SCENARIO = ROOT / "tests/scenarios/inference-crashloop/confirmed"
BOT_TOKEN = "xoxb-canary-slack-bot-4e1f"
SIGNING_SECRET = "canary-signing-secret-a7d3"
WEBHOOK_SECRET = "canary-webhook-secret-19b0"
KUBE_TOKEN = "canary-kube-token-83c2"
AZURE_TOKEN = "canary-azure-token-5f6e"
POD_ENV = "canary-pod-env-value-2d9a"
CONFIGMAP = "canary-configmap-value-c0de"
SECRET_OBJECT = "canary-secret-object-value-77ab"
EVENT_TOKEN = "canaryEventProbeToken0b5e"  # a token in a probe URL that an event quotes
LOG_TOKEN = "xoxp-1234-canary-log-token-6c1d"  # a Slack user token printed by a workload
LOGS_ROW = "canary-la-password-31f8"
ALERT_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJjYW5hcnkiOiJhbGVydCJ9.Y2FuYXJ5LWFsZXJ0LXNpZw"
CANARIES = [
    BOT_TOKEN,
    SIGNING_SECRET,
    WEBHOOK_SECRET,
    KUBE_TOKEN,
    AZURE_TOKEN,
    POD_ENV,
    CONFIGMAP,
    SECRET_OBJECT,
    EVENT_TOKEN,
    LOG_TOKEN,
    LOGS_ROW,
    ALERT_TOKEN,
]


def _edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _plant(snap: Path) -> None:
    kube = snap / "kubernetes"

    def pods(doc: dict) -> None:
        for pod in doc["items"]:
            for container in pod["spec"]["containers"]:
                container.setdefault("env", []).append({"name": "DB_PASSWORD", "value": POD_ENV})

    def events(doc: dict) -> None:
        for event in doc["items"]:
            message = str(event.get("message") or "")
            event["message"] = message.replace("/health", f"/health?access_token={EVENT_TOKEN}")

    def configmaps(doc: dict) -> None:
        doc["items"].append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "unread-settings", "namespace": "default"},
                "data": {"password": CONFIGMAP},
            }
        )

    def logs_rows(doc: dict) -> None:
        doc["tables"][0]["rows"].append(
            [
                "workspace-llama-3-1-8b-0",
                f"CUDA error: no CUDA-capable device is detected (password={LOGS_ROW})",
                3,
            ]
        )

    _edit_json(kube / "pods.json", pods)
    _edit_json(kube / "events.json", events)
    _edit_json(kube / "configmaps.json", configmaps)
    _edit_json(snap / "loganalytics/gpu-error-patterns.json", logs_rows)
    secret = {"metadata": {"name": "hf-token", "namespace": "default"}, "kind": "Secret"}
    (kube / "secrets.json").write_text(
        json.dumps({"kind": "List", "items": [{**secret, "stringData": {"t": SECRET_OBJECT}}]})
    )
    for log in (kube / "logs").rglob("*.log"):
        lines = log.read_text().splitlines()
        log.write_text("".join(f"{line} token: Bearer {LOG_TOKEN}\n" for line in lines))


def _alert_post() -> dict:
    attachment = dict(ALERTMANAGER_POST["attachments"][0])
    attachment["text"] += f"\n• *auth:* `Authorization: Bearer {ALERT_TOKEN}`"
    return {**ALERTMANAGER_POST, "attachments": [attachment]}


def _webhook(url: str) -> int:
    alert = {
        "status": "firing",
        "labels": {"alertname": "KaitoWorkspaceNotReady", "namespace": "default"},
        "annotations": {"description": f"probe sent Authorization: Bearer {ALERT_TOKEN}"},
        "fingerprint": "0badc0de",
    }
    req = urllib.request.Request(
        f"{url}/alerts/alertmanager",
        data=json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode(),
        headers={"Authorization": f"Bearer {WEBHOOK_SECRET}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status


def _store_rows(bot) -> list[str]:
    """Every value of every row of every table, found by reflection."""
    metadata = MetaData()
    metadata.reflect(bot.bot.store.engine)
    assert {"dedupe", "alert_threads"} <= set(metadata.tables)
    with bot.bot.store.engine.connect() as conn:
        return [
            " ".join(str(v) for v in row)
            for table in metadata.sorted_tables
            for row in conn.execute(select(table))
        ]


def test_canaries_never_reach_slack_or_the_store(tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    snap = tmp_path / "snap"
    shutil.copytree(SCENARIO, snap)
    _plant(snap)
    monkeypatch.delenv("GPUBOT_CONFIG", raising=False)
    env = SlackEnv(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=None,
        api_url="",
        webhook_secret=WEBHOOK_SECRET,
    )
    with (
        FakeSlack() as fake,
        KubeApiEmulator(snap, missing_crd_status=403, latency_cap=0.2, token=KUBE_TOKEN) as kube,
        AzureEmulator(snap, token=AZURE_TOKEN, ca=trustme.CA()) as azure,
    ):
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
        for name, value in azure.env().items():
            monkeypatch.setenv(name, value)
        cluster = yaml.safe_load((snap / "snapshot.yaml").read_text())["cluster"]
        config = tmp_path / "gpubot.yaml"
        config.write_text(yaml.safe_dump({"clusters": [{**cluster, "kube_context": "emulator"}]}))
        bot = h.start_bot(
            fake,
            snap,
            tmp_path,
            diagnoser=diagnoser_for(argparse.Namespace(config=config)),
            config=SlackConfig(alert_channel="CALERTS"),
            env=env.model_copy(update={"api_url": fake.url}),
        )
        try:
            signed = {"secret": SIGNING_SECRET}
            status, _ = h.slash(bot.url, "diagnose", response_url=fake.response_url, **signed)
            assert status == 200
            assert h.event(bot.url, _alert_post(), event_id="EvCANARY", **signed)[0] == 200
            assert _webhook(bot.url) == 202
            bot.drain()
            rows = _store_rows(bot)
        finally:
            bot.stop()
        assert kube.seen("GET", ".*/events") and kube.seen("GET", ".*/log")
        assert not kube.seen("GET", ".*secrets.*"), "gpubot never asks for Secret objects"
    summaries = [c for c in fake.of("chat.update") if c.args.get("blocks")]
    assert len(summaries) == 3, [c.method for c in fake.calls]  # diagnose, post, webhook
    bodies = [json.dumps(c.args) for c in fake.calls]
    assert any(f"Bearer {BOT_TOKEN}" in c.headers.get("Authorization", "") for c in fake.calls)
    assert any("[redacted]" in body for body in bodies), "the planted tokens were quoted"
    assert rows
    outputs = {"slack": "\n".join(bodies), "store": "\n".join(rows), "logs": caplog.text}
    leaked = {where: [c for c in CANARIES if c in text] for where, text in outputs.items()}
    assert leaked == {"slack": [], "store": [], "logs": []}
