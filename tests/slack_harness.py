"""Run the real bot (Bolt + waitress) on loopback against the fake Slack API."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import waitress
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.engine.loader import load_catalog
from bot.engine.service import Diagnoser
from bot.slack.app import GpuBot, web_client
from bot.slack.settings import SlackConfig, SlackEnv
from bot.slack.web import WebApp
from bot.sources.snapshot import SnapshotSource
from bot.store.db import Store
from tests.emulators.slack_api import FakeSlack

SIGNING_SECRET = "test-signing-secret-not-real"
BOT_TOKEN = "xoxb-test-token-not-real"
WEBHOOK_SECRET = "test-webhook-secret-not-real"


@dataclass
class Running:
    bot: GpuBot
    web: WebApp
    url: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        close_server(self.server, self.thread)
        self.bot.shutdown()

    def drain(self) -> None:
        """Wait until every request answered so far has been fully handled: Bolt runs
        listeners in its executor, they hand diagnoses to the pool. Ends both, so after this
        the recorded Web API calls are final (no timing guess)."""
        self.bot.app.listener_runner.listener_executor.shutdown(wait=True)
        self.bot.pool.shutdown(wait=True)
        if self.bot.fixes is not None:  # fix clicks and their verifications post too
            self.bot.fixes.shutdown()


def start_bot(
    fake: FakeSlack,
    snapshot: Path,
    tmp_path: Path,
    *,
    config: SlackConfig | None = None,
    diagnoser: Diagnoser | None = None,
    http: bool = True,
    app_token: str | None = None,
    env: SlackEnv | None = None,
    guard: Callable[[Store, WebClient], Any] | None = None,
    store_url: str | None = None,
) -> Running:
    """`guard(store, client)` builds the fix guard over the bot's own store and Web client."""
    env = env or SlackEnv(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=app_token,
        api_url=fake.url,
        webhook_secret=WEBHOOK_SECRET,
    )
    if diagnoser is None:
        source = SnapshotSource(snapshot)
        diagnoser = Diagnoser(load_catalog(), lambda _n: source, [source.cluster.name])
    store = Store.open(store_url or f"sqlite:///{tmp_path / 'store.db'}")
    client = web_client(env)
    bot = GpuBot(
        diagnoser=diagnoser,
        store=store,
        config=config or SlackConfig(alert_channel="CALERTS"),
        env=env,
        client=client,
        socket_mode=not http,
        guard=guard(store, client) if guard is not None else None,
    )
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    web = WebApp(
        triage=bot.triage_webhook,
        webhook_secret=env.webhook_secret,
        slack_handler=SlackRequestHandler(bot.app) if http else None,
    )
    return serve(bot, web)


def close_server(server: Any, thread: threading.Thread) -> None:
    """Stop waitress without racing it on closed file descriptors.

    First the worker threads finish the requests they hold: a worker that finishes wakes the
    loop through the trigger, which must still be open then. Then the loop closes its own
    sockets, from inside its thread (closing them from here races its select()); with every
    dispatcher closed the loop ends by itself."""
    server.task_dispatcher.shutdown(timeout=30)

    def close_all() -> None:
        for dispatcher in list(server._map.values()):
            dispatcher.close()

    server.trigger.pull_trigger(close_all)
    thread.join(timeout=10)
    if thread.is_alive():  # the loop did not wake: fall back to closing from here
        server.close()
        thread.join(timeout=10)


def serve(bot: GpuBot, web: WebApp) -> Running:
    """Serve an already built bot (e.g. `bot.cli.serve.build`) on a loopback port."""
    server = waitress.create_server(web, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return Running(bot, web, f"http://127.0.0.1:{server.effective_port}", server, thread)


def signed_post(
    url: str,
    body: str,
    *,
    content_type: str,
    secret: str = SIGNING_SECRET,
    ts: int | None = None,
    extra: dict[str, str] | None = None,
    signature: str | None = None,
    omit: tuple[str, ...] = (),
) -> tuple[int, str]:
    ts = int(time.time()) if ts is None else ts
    sig = signature or SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sig,
    }
    headers.update(extra or {})
    for name in omit:
        headers.pop(name, None)
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def slash(
    url: str,
    text: str,
    *,
    channel: str = "CINFRA",
    user: str = "U123",
    response_url: str = "",
    **kw: Any,
):
    return signed_post(
        f"{url}/slack/events",
        slash_body(text, channel=channel, user=user, response_url=response_url),
        content_type="application/x-www-form-urlencoded",
        **kw,
    )


def slash_body(
    text: str,
    *,
    channel: str = "CINFRA",
    user: str = "U123",
    response_url: str = "",
    trigger_id: str | None = None,
) -> str:
    """The form body Slack posts for `/gpu text`; each invocation has its own trigger_id."""
    form = {
        "token": "legacy-verification-token-unused",
        "team_id": "T0001",
        "team_domain": "gpubot-test",
        "channel_id": channel,
        "channel_name": "gpu-oncall",
        "user_id": user,
        "user_name": "oncall",
        "command": "/gpu",
        "text": text,
        "api_app_id": "A1",
        "response_url": response_url,
        "trigger_id": trigger_id or f"trig-{time.time_ns()}",
    }
    return urlencode(form)


def event(url: str, message: dict[str, Any], *, event_id: str, retry: int | None = None, **kw: Any):
    extra = (
        {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
    )
    return signed_post(
        f"{url}/slack/events",
        event_body(message, event_id=event_id),
        content_type="application/json",
        extra=extra,
        **kw,
    )


def event_body(message: dict[str, Any], *, event_id: str) -> str:
    """The Events API envelope Slack posts for a message event."""
    return json.dumps(
        {
            "token": "unused",
            "team_id": "T0001",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "message", **message},
            "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
        }
    )
