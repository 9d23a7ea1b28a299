"""Hostile button clicks, property-based (hypothesis): arbitrary `value` strings and arbitrary
payload shapes on the fix, guard and ack/snooze buttons.

Each click is a signed block_actions request into `gpubot serve`'s own wiring
(bot.cli.serve.build: Bolt's WSGI handler, the real guard and a SQLite store), called in process
through WSGI, against the loopback Kubernetes and Azure emulators and FakeSlack. Whatever the
click carries: never a 500, never a traceback or an internal error in anything posted to Slack,
nothing posted but an ephemeral reply to the clicker, and no write at either emulator. The
guard's own entry points get the same inputs directly and must refuse, writing nothing but
their audit row.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import trustme
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bot.cli import serve
from bot.slack.settings import SlackEnv
from bot.store import tables
from bot.store.db import Store
from tests import slack_harness as h
from tests.emulators.slack_api import Call, FakeSlack
from tests.guard_harness import ALICE, LENA, LiveCluster, offered
from tests.test_hostile_input import JSONISH

QUICK = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
ACTION_IDS = [
    "fix:request-quota:0",
    "guard:confirm",
    "guard:cancel",
    "guard:approve",
    "guard:reject",
    "guard:undo",
    "ack:quota-exhausted",
    "snooze:quota-exhausted",
]
# Internal detail that must never reach a Slack message.
LEAKS = ("Traceback", 'File "', "hit an error", "Exception", "Error(")
TRICKY = st.sampled_from(
    [
        "",
        "gpf1",
        "gpf1.",
        "gpf1..",
        "gpf1.a.b",
        "gpf1." + "A" * 300,
        "gpf1.x" + "." * 50,
        "{}",
        '{"fix": "request-quota", "params": {}}',
        "'; DROP TABLE fix_requests; --",
        "\x00",
        "null",
        "aks-inference\n",
        "quota-exhausted",
        "<@U0ALICE> <!channel>",
        "%00%0a",
    ]
)
VALUES = st.one_of(TRICKY, st.text(max_size=300), TRICKY.map(lambda v: v + "." + v))


@dataclass
class Rig:
    bot: Any
    web: Any
    fake: FakeSlack
    cluster: LiveCluster
    clicks: int = 0

    def post(self, payload: Any) -> tuple[int, str]:
        """One signed interactivity request through the WSGI app; status and body."""
        body = urlencode({"payload": json.dumps(payload)})
        ts = str(int(time.time()))
        sig = SignatureVerifier(h.SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
        environ = {
            "PATH_INFO": "/slack/events",
            "REQUEST_METHOD": "POST",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body.encode()),
            "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
            "HTTP_X_SLACK_SIGNATURE": sig,
        }
        seen: list[str] = []
        out = b"".join(self.web(environ, lambda status, headers: seen.append(status)))
        return int(seen[0].split()[0]), out.decode("utf-8", "replace")

    def payload(self, action_id: Any, value: Any) -> dict[str, Any]:
        self.clicks += 1
        return {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": "ULENA", "team_id": "T0001"},
            "api_app_id": "A1",
            "container": {"type": "message", "message_ts": "1.1", "channel_id": "CINFRA"},
            "channel": {"id": "CINFRA"},
            "message": {"ts": "1.1", "type": "message"},
            "trigger_id": f"trig-{self.clicks}",
            "response_url": self.fake.response_url_for(self.clicks),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "fixplan:actions",
                    "value": value,
                    "type": "button",
                    "action_ts": "1.2",
                }
            ],
        }

    def drain(self) -> None:
        """Let every click accepted so far finish (ends the pools: the last step of a test)."""
        self.bot.app.listener_runner.listener_executor.shutdown(wait=True)
        self.bot.shutdown()


@pytest.fixture
def rig(tmp_path, monkeypatch, catalog) -> Iterator[Rig]:
    cluster = LiveCluster.start(
        "quota-exhausted/confirmed", tmp_path, trustme.CA(), monkeypatch, catalog
    )
    monkeypatch.setenv("GPUBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'gpubot.db'}")
    doc = yaml.safe_load(cluster.config.read_text())
    doc["fixes"] = {"team_id": "T0001", "allow": {"low": ["ULENA"], "high": ["UALICE"]}}
    config = tmp_path / "hostile.yaml"
    config.write_text(yaml.safe_dump(doc))
    with FakeSlack() as fake:
        env = SlackEnv(
            bot_token=h.BOT_TOKEN,
            signing_secret=h.SIGNING_SECRET,
            app_token=None,
            api_url=fake.url,
            webhook_secret=h.WEBHOOK_SECRET,
        )
        bot, web = serve.build(argparse.Namespace(config=config, snapshot=None, http=True), env)
        try:
            yield Rig(bot, web, fake, cluster)
        finally:
            bot.shutdown()
            cluster.stop()


def _body(call: Call) -> str:
    return json.dumps(call.args, ensure_ascii=False)


def _assert_only_ephemeral_and_clean(calls: list[Call]) -> None:
    for call in calls:
        if call.method == "auth.test":
            continue  # Bolt checks its token at start-up
        assert call.method in ("response_url", "chat.postEphemeral"), (call.method, call.args)
        assert call.args.get("response_type", "ephemeral") == "ephemeral", call.args
        assert call.args.get("replace_original") in (None, False), call.args
        assert not any(leak in _body(call) for leak in LEAKS), call.args


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [(r.name, r.getMessage(), r.exc_info and r.exc_info[0]) for r in bad]


def test_arbitrary_button_values_get_an_ephemeral_refusal_and_write_nothing(rig, caplog) -> None:
    caplog.set_level(logging.INFO)

    @QUICK
    @given(st.sampled_from(ACTION_IDS), VALUES)
    def click(action_id: str, value: str) -> None:
        status, body = rig.post(rig.payload(action_id, value))
        assert status == 200, body
        # Every one of these listeners answers the clicker; wait for that answer.
        path = f"/response/{rig.clicks}"
        calls = rig.fake.wait_for(lambda cs: any(c.path == path for c in cs), timeout=30)
        (reply,) = [c for c in calls if c.path == path]
        _assert_only_ephemeral_and_clean([reply])
        assert rig.cluster.writes() == [], (action_id, value)

    click()
    rig.drain()
    _assert_only_ephemeral_and_clean(rig.fake.calls)
    assert rig.cluster.writes() == []
    assert rig.bot.store.ledger.requests() == [], "no request was planned from a hostile value"
    _no_errors_logged(caplog)


PAYLOAD_KEYS = ["user", "team", "container", "channel", "message", "actions", "trigger_id"]
ACTION_KEYS = ["action_id", "value", "block_id", "type", "action_ts"]


def _reshape(payload: dict[str, Any], top: dict[str, Any], action: dict[str, Any]) -> Any:
    payload.update(top)
    actions = payload.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        actions[0].update(action)
    return payload


def test_arbitrary_payload_shapes_never_500_post_or_write(rig, caplog) -> None:
    caplog.set_level(logging.INFO)
    statuses: list[int] = []

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.sampled_from(ACTION_IDS),
        VALUES,
        st.dictionaries(st.sampled_from(PAYLOAD_KEYS), JSONISH, max_size=3),
        st.dictionaries(st.sampled_from(ACTION_KEYS), JSONISH, max_size=3),
    )
    def click(action_id: str, value: str, top: dict, action: dict) -> None:
        status, body = rig.post(_reshape(rig.payload(action_id, value), top, action))
        assert status != 500 and status < 500, (status, body)
        assert not any(leak in body for leak in LEAKS), body
        statuses.append(status)

    click()
    rig.drain()  # every accepted click has finished: what Slack got is final
    _assert_only_ephemeral_and_clean(rig.fake.calls)
    assert rig.cluster.writes() == []
    assert rig.bot.store.ledger.requests() == []
    assert 200 in statuses  # most shapes still reach a listener, which refuses
    _no_errors_logged(caplog)


# ---- the guard's entry points, called directly -------------------------------------------------


def _rows(store: Store) -> dict[str, list[Any]]:
    with store.engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t)).all()]
            for t in (tables.fix_requests, tables.fix_tokens, tables.claims)
        }


def test_guard_steps_refuse_arbitrary_values_and_write_nothing(tmp_path, monkeypatch, catalog):
    cluster = LiveCluster.start(
        "quota-exhausted/confirmed", tmp_path, trustme.CA(), monkeypatch, catalog
    )
    try:
        store = Store.open(f"sqlite:///{tmp_path / 'gpubot.db'}")
        guard = cluster.guard(store)
        params = offered(cluster.diagnoser, "quota-exhausted", "request-quota")
        # Real buttons of every kind, for a request waiting for confirmation and one awaiting
        # approval: each must be refused when pressed as another kind.
        planned = guard.plan(cluster=cluster.name, fix="request-quota", params=params, actor=LENA)
        pool = {"pool": "gpua100", "min_count": 1}
        high = guard.plan(cluster=cluster.name, fix="pool-min-count", params=pool, actor=ALICE)
        asked = guard.confirm(high.buttons["confirm"], ALICE)
        assert asked.status == "requested", asked.message
        real = {
            "offer": guard.offer(cluster=cluster.name, fix="request-quota", params=params),
            **planned.buttons,
            **asked.buttons,
        }
        before = _rows(store)
        reached: list[str] = []
        guard.contexts = guard.applier.contexts = guard.planner.contexts = reached.append
        steps = {
            "confirm": guard.confirm,
            "approve": guard.approve,
            "reject": guard.reject,
            "cancel": guard.cancel,
            "offer": guard.plan_offer,
            "undo": guard.plan_undo,
        }
        flip = st.sampled_from(sorted(real)).map(lambda k: real[k][:-2] + real[k][-1:] + "x")

        @QUICK
        @given(
            st.sampled_from(sorted(steps)),
            st.one_of(
                VALUES,
                flip,
                st.sampled_from(sorted(real)),  # a real button of a kind, pressed as another
                JSONISH,
                st.binary(max_size=50),
                st.builds(object),
            ),
            st.sampled_from([LENA, ALICE]),
        )
        def press(step: str, value: Any, actor: Any) -> None:
            if isinstance(value, str) and value in real:
                if value == step:
                    return  # the right button for this step: not hostile
                value = real[value]
            outcome = steps[step](value, actor)
            assert outcome.status == "refused", (step, value, outcome.message)
            assert not any(leak in outcome.message for leak in LEAKS), outcome.message

        press()
        assert reached == [], "a hostile value reached a cluster"
        assert _rows(store) == before, "a refusal wrote more than its audit row"
        assert cluster.writes() == []
        refused = store.ledger.audit_trail(action="refused", limit=10_000)
        assert refused and all(r.reason for r in refused)
    finally:
        cluster.stop()
