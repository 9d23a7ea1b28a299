"""Socket Mode: the bot opens the WebSocket `apps.connections.open` hands out, acks envelopes."""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode import SocketModeHandler

from tests import slack_harness as h
from tests.conftest import ROOT
from tests.emulators.slack_api import FakeSlack, FakeSocketMode

QUOTA = ROOT / "tests/scenarios/quota-exhausted/confirmed"


def test_slash_command_over_socket_mode(tmp_path) -> None:
    with FakeSlack() as fake:
        ws = FakeSocketMode(fake).start()
        running = h.start_bot(fake, QUOTA, tmp_path, http=False, app_token="xapp-test-not-real")
        handler = SocketModeHandler(running.bot.app, "xapp-test-not-real")
        try:
            handler.connect()
            assert ws.connected.wait(30)
            assert fake.of("apps.connections.open"), "the WebSocket URL came from the Web API"
            ws.send(
                {
                    "envelope_id": "env-1",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": {
                        "team_id": "T0001",
                        "channel_id": "CINFRA",
                        "user_id": "U123",
                        "command": "/gpu",
                        "text": "diagnose",
                        "response_url": fake.response_url,
                        "trigger_id": "t1",
                        "api_app_id": "A1",
                    },
                }
            )
            ack = ws.wait_ack("env-1")
            assert "Diagnosing aks-inference" in str(ack.get("payload"))
            calls = fake.wait_for(
                lambda cs: any(c.method == "chat.update" and c.args.get("blocks") for c in cs)
            )
            first_post = next(c for c in calls if c.method == "chat.postMessage")
            assert first_post.args["channel"] == "CINFRA"
        finally:
            handler.close()
            ws.stop()
            running.stop()
            time.sleep(0.1)
