"""`gpubot check morning`: the full ladder printed; --post lands once per cluster and day."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from bot.cli.morning import post_once
from bot.engine.loader import load_catalog
from bot.engine.service import Diagnoser
from bot.model.playbook import Schedule
from bot.slack.app import web_client
from bot.slack.schedule import next_fire
from bot.slack.settings import SlackEnv
from bot.sources.snapshot import SnapshotSource
from bot.store.db import Store
from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack

NOT_READY = ROOT / "tests/scenarios/morning/not-ready"
RUNGS = [
    "GPU advertised on GPU nodes",
    "device plugin / driver healthy",
    "workspaces ResourceReady and InferenceReady",
    "endpoint /v1/models answering",
    "quota headroom",
    "pre-warm in place",
    "idle GPU node-hours",
]


def test_prints_the_full_ladder_in_order(run_cli) -> None:
    code, out, err = run_cli("check", "morning", "--snapshot", str(NOT_READY))
    assert code == 0, err
    positions = [out.index(rung) for rung in RUNGS]
    assert positions == sorted(positions)
    assert out.count("❌") >= 7 and "≈ ₹" in out


def test_post_lands_once_however_many_replicas_run_it(monkeypatch, tmp_path, run_cli) -> None:
    with FakeSlack() as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", h.BOT_TOKEN)
        monkeypatch.setenv("GPUBOT_SLACK_API_URL", fake.url)
        monkeypatch.setenv("GPUBOT_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
        code, _, err = run_cli("check", "morning", "--snapshot", str(NOT_READY), "--post", "CREADY")
        assert code == 0 and "posted" in err
        code, _, err = run_cli("check", "morning", "--snapshot", str(NOT_READY), "--post", "CREADY")
        assert code == 0 and "already posted" in err
        heads = [c for c in fake.of("chat.postMessage") if not c.args.get("thread_ts")]
        assert len(heads) == 1 and heads[0].args["channel"] == "CREADY"
        assert (
            heads[0].args["blocks"][0]["text"]["text"].startswith("GPU readiness · aks-inference")
        )


@pytest.mark.usefixtures("store_url")
def test_concurrent_schedulers_and_cronjob_post_once(store_url) -> None:
    with FakeSlack() as fake:
        env = SlackEnv(
            bot_token=h.BOT_TOKEN,
            signing_secret=None,
            app_token=None,
            api_url=fake.url,
            webhook_secret=None,
        )
        source = SnapshotSource(NOT_READY)
        diagnoser = Diagnoser(load_catalog(), lambda _n: source, [source.cluster.name])
        replicas = [
            Store.open(store_url),
            Store.open(store_url, migrate=False),
            Store.open(store_url, migrate=False),
        ]
        now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 07:30 in Asia/Kolkata
        results: list[bool] = []
        threads = [
            threading.Thread(
                target=lambda s=s: results.append(
                    post_once(web_client(env), s, diagnoser, None, "C1", now)
                )
            )
            for s in replicas
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert results.count(True) == 1 and len(results) == 3
        assert len([c for c in fake.of("chat.postMessage") if not c.args.get("thread_ts")]) == 1
        # the next day is a new report
        tomorrow = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
        assert post_once(web_client(env), replicas[0], diagnoser, None, "C1", tomorrow)


def test_schedule_fires_in_its_time_zone() -> None:
    schedule = Schedule(cron="30 7 * * 1-5", timezone="Asia/Kolkata")
    friday_evening = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # Friday 19:30 IST
    assert next_fire(schedule, friday_evening) == datetime(
        2026, 11, 30, 2, 0, tzinfo=UTC
    )  # Monday 07:30 IST
