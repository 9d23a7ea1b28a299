"""A loopback fake of the Slack Web API, response_url and Socket Mode, recording every call.

Speaks the real wire formats: form or JSON bodies in, `{"ok": ...}` JSON out, 429 with
Retry-After when told to, and a WebSocket server for Socket Mode handed out by
`apps.connections.open`, as slack.com does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT = {
    "user_id": "UBOT",
    "bot_id": "BBOT",
    "team_id": "T0001",
    "team": "gpubot-test",
    "user": "gpubot",
}


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response_url"
    args: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    reply: dict[str, Any] = field(default_factory=dict)  # what the fake answered (its `ts`)
    path: str = ""  # e.g. /response/7: which response_url was used


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.rate_limits: dict[str, list[int]] = {}  # method -> Retry-After seconds per next calls
        self.errors: dict[str, str] = {}  # method -> Slack error code to answer
        # method -> transport faults for the next calls, one popped per call: "timeout" (stall
        # `stall_seconds`, then answer), "500"/"503" (server error), "malformed" (cut JSON)
        self.faults: dict[str, list[str]] = {}
        self.stall_seconds = 3.0
        # method -> rule(args) naming the fault for a call by what it carries (one thread reply,
        # every attempt of it), or None to answer; the same fault names, plus "429" (Retry-After
        # 1) and "error:<code>" (`{"ok": false, "error": code}`)
        self.fault_rules: dict[str, Callable[[dict[str, Any]], str | None]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self._ts = 1_764_230_000
        self.ws_url: str | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    @property
    def response_url(self) -> str:
        return self.response_url_for(1)

    def response_url_for(self, n: int | str) -> str:
        """A distinct response_url per click, so a reply can be matched to its click."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/response/{n}"

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- assertions ----------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate, timeout: float = 60.0) -> list[Call]:
        """Block until predicate(calls) is true; returns the calls. No timing asserted."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out; calls so far: {[c.method for c in self.calls]}"
                    )
                self.changed.wait(left)
            return list(self.calls)

    def next_ts(self) -> str:
        with self.lock:
            self._ts += 1
            return f"{self._ts}.000100"

    # ---- HTTP ----------------------------------------------------------------------------

    def _answer(
        self, method: str, args: dict[str, Any]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self.lock:
            waits = self.rate_limits.get(method)
            if waits:
                return (
                    429,
                    {"Retry-After": str(waits.pop(0))},
                    {"ok": False, "error": "ratelimited"},
                )
            if method in self.errors:
                return 200, {}, {"ok": False, "error": self.errors[method]}
        if method == "auth.test":
            return (
                200,
                {"x-oauth-scopes": "commands,chat:write,channels:history"},
                {"ok": True, **BOT, "url": "https://x/"},
            )
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = self.next_ts()
            return (
                200,
                {},
                {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"ts": ts}},
            )
        if method == "chat.update":
            return 200, {}, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "apps.connections.open":
            return 200, {}, {"ok": True, "url": self.ws_url}
        if method == "usergroups.users.list":
            return (
                200,
                {},
                {"ok": True, "users": self.usergroups.get(str(args.get("usergroup")), [])},
            )
        return 200, {}, {"ok": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "attachments"):
                        if isinstance(args.get(key), str):
                            args[key] = json.loads(args[key])
                path = urlparse(self.path).path
                method = (
                    "response_url" if path.startswith("/response/") else path.removeprefix("/api/")
                )
                with fake.lock:
                    pending = fake.faults.get(method)
                    fault = pending.pop(0) if pending else None
                    rule = fake.fault_rules.get(method)
                fault = fault or (rule(args) if rule else None)
                if fault is not None:
                    with fake.changed:
                        fake.calls.append(Call(method, args, dict(self.headers)))
                        fake.changed.notify_all()
                    return self._fault(fault)
                status, headers, body = (
                    (200, {}, {"ok": True})
                    if method == "response_url"
                    else fake._answer(method, args)
                )
                with fake.changed:
                    fake.calls.append(Call(method, args, dict(self.headers), reply=body, path=path))
                    fake.changed.notify_all()
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fault(self, fault: str) -> None:
                if fault == "timeout":
                    time.sleep(fake.stall_seconds)
                    self.close_connection = True
                    return
                headers = {"Retry-After": "1"} if fault == "429" else {}
                if fault == "malformed":
                    status, data = 200, b'{"ok": tr'
                elif fault.startswith("error:"):
                    body = {"ok": False, "error": fault.removeprefix("error:")}
                    status, data = 200, json.dumps(body).encode()
                elif fault == "429":
                    status, data = 429, b'{"ok": false, "error": "ratelimited"}'
                else:
                    status, data = int(fault), b""
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        return Handler


class FakeSocketMode:
    """A local WebSocket endpoint standing in for wss://wss-primary.slack.com."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.acks: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.acked = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._clients: set[Any] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self.port = 0

    def _run(self) -> None:
        import websockets

        asyncio.set_event_loop(self._loop)

        async def handler(ws: Any) -> None:
            self._clients.add(ws)
            await ws.send(
                json.dumps(
                    {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}
                )
            )
            self.connected.set()
            try:
                async for message in ws:
                    with self.acked:
                        self.acks.append(json.loads(message))
                        self.acked.notify_all()
            finally:
                self._clients.discard(ws)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with websockets.serve(handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.fake.ws_url = f"ws://127.0.0.1:{self.port}/link"
                self._ready.set()
                await self._stop.wait()
                for ws in list(self._clients):
                    await ws.close()

        self._loop.run_until_complete(main())
        self._loop.close()

    def start(self) -> FakeSocketMode:
        self._thread.start()
        self._ready.wait(10)
        return self

    def send(self, envelope: dict[str, Any]) -> None:
        async def push() -> None:
            for ws in list(self._clients):
                await ws.send(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(push(), self._loop).result(10)

    def drop(self) -> None:
        """Close every open connection, as Slack does when it loses one; the server keeps
        accepting new ones (whether the client gets a URL is `apps.connections.open`'s say)."""

        async def close() -> None:
            for ws in list(self._clients):
                await ws.close()

        self.connected.clear()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def wait_ack(self, envelope_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.acked:
            while True:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no ack for {envelope_id}")
                self.acked.wait(left)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
