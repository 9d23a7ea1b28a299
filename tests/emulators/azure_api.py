"""A loopback HTTPS server that serves a snapshot directory as ARM and the Log Analytics API.

The real Azure SDK clients talk to it, configured only through DESIGN.md's overrides
(`env()`: GPUBOT_ARM_ENDPOINT, GPUBOT_LOGS_ENDPOINT, GPUBOT_CA_BUNDLE, GPUBOT_AZURE_TOKEN,
GPUBOT_NOW). Its certificate comes from a CA made in the test (trustme). A snapshot file that
is missing is answered 403 ("not known"), so live and offline diagnoses agree. It records every
request, checks the bearer token, and takes per-route latency and faults (`inject`, `slow`).
Writes (PUT with ETag/If-Match, quota requests) change only its memory, never the snapshot.

Routes: usages, skus, managed_cluster, user_credentials, agent_pools, agent_pool, registries,
quota, quota_request (azure_quota.py), logs. `edit_managed_cluster` / `edit_agent_pool` change a
resource behind the client's back (its ETag moves), as another admin or the portal would.
"""

from __future__ import annotations

import copy
import json
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme
import yaml

from bot.model.text import parse_time
from tests.emulators import azure_http, azure_quota, azure_routes
from tests.emulators.azure_routes import Reply
from tests.emulators.azure_routes import error as _error

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_AKS = (
    _SUB
    + r"/resourcegroups/(?P<rg>[^/]+)"
    + r"/providers/microsoft\.containerservice/managedclusters/(?P<name>[^/]+)"
)
_LOC = _SUB + r"/providers/microsoft\.compute/locations/(?P<loc>[^/]+)"
ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    (m, name, re.compile(rx + "/?$", re.IGNORECASE))
    for m, name, rx in [
        ("GET", "usages", _LOC + "/usages"),
        ("GET", "skus", _SUB + r"/providers/microsoft\.compute/skus"),
        ("GET PUT", "managed_cluster", _AKS),
        ("POST", "user_credentials", _AKS + "/listclusterusercredential"),
        ("GET", "agent_pools", _AKS + "/agentpools"),
        ("GET PUT", "agent_pool", _AKS + r"/agentpools/(?P<pool>[^/]+)"),
        ("GET", "registries", _SUB + r"/providers/microsoft\.containerregistry/registries"),
        ("GET PUT", "quota", _LOC + r"/providers/microsoft\.quota/quotas/(?P<family>[^/]+)"),
        ("GET", "quota_request", _LOC + r"/providers/microsoft\.quota/quotaRequests/(?P<id>[^/]+)"),
        ("POST", "logs", r"/v1/workspaces/(?P<ws>[^/]+)/query"),
    ]
]
HANDLERS = {**azure_routes.HANDLERS, **azure_quota.HANDLERS}


@dataclass
class Fault:
    """What to do instead of answering: `timeout` (stall), `status` (e.g. 429 + Retry-After,
    500, 503), `malformed` (200 with broken JSON), `truncated` (body cut short, then close)."""

    kind: str
    status: int = 503
    retry_after: str | None = None
    times: int | None = None  # the first N matching requests; None = every one
    method: str | None = None  # only requests with this method (e.g. a write); None = any


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    route: str | None
    authorized: bool
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)  # Authorization left out
    status: int | None = None


class AzureEmulator:
    def __init__(self, snapshot: Path | str, *, token: str, ca: trustme.CA | None = None) -> None:
        self.snapshot = Path(snapshot)
        self.token = token
        self.ca = ca or trustme.CA()
        manifest = yaml.safe_load((self.snapshot / "snapshot.yaml").read_text(encoding="utf-8"))
        self.cluster: dict[str, Any] = manifest["cluster"]
        self.captured_at = parse_time(manifest["captured_at"])
        self.requests: list[Recorded] = []
        self.latency: dict[str, float] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.stall_seconds = 3.0  # how long a `timeout` fault keeps the client waiting
        self.page_size: int | None = None  # split list bodies into nextLink pages
        self.user_kubeconfig: bytes | None = None
        self.quota_desk = azure_quota.QuotaDesk()
        # route -> called with each answered request of that route, after its reply is made:
        # lets a test change a resource between the client's read and its write.
        self.after_answer: dict[str, Callable[[Recorded], None]] = {}
        self._state: dict[str, Any] = {}
        self._etags: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="gpubot-azure-emulator-")
        self.ca_file = Path(self._dir.name) / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    # ---- lifecycle and test controls -------------------------------------------------------

    def start(self) -> AzureEmulator:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ssl_context)
        self._server = azure_http.TlsServer(("127.0.0.1", 0), azure_http.handler(self), ssl_context)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._dir.cleanup()

    def __enter__(self) -> AzureEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """The DESIGN.md overrides that point the real SDK clients here."""
        out = {
            "GPUBOT_ARM_ENDPOINT": self.url,
            "GPUBOT_LOGS_ENDPOINT": self.url + "/v1",
            "GPUBOT_CA_BUNDLE": str(self.ca_file),
            "GPUBOT_AZURE_TOKEN": self.token,
        }
        if self.captured_at is not None:
            out["GPUBOT_NOW"] = self.captured_at.isoformat()
        return out

    def inject(self, route: str, fault: Fault) -> None:
        self.faults.setdefault(route, []).append(fault)

    def slow(self, route: str, seconds: float) -> None:
        self.latency[route] = seconds

    def edit_managed_cluster(self, mutate: Callable[[dict[str, Any]], None]) -> None:
        body = self.load("azure/managed-cluster.json")
        mutate(body)
        self.store("azure/managed-cluster.json", body)
        self.etag(f"managedClusters/{self.cluster['name']}", bump=True)

    def edit_agent_pool(self, pool: str, mutate: Callable[[dict[str, Any]], None]) -> None:
        pools = self.load("azure/agent-pools.json")
        mutate(next(p for p in pools["value"] if p["name"] == pool))
        self.store("azure/agent-pools.json", pools)
        self.etag(f"managedClusters/{self.cluster['name']}/agentPools/{pool}", bump=True)

    def decide_quota_request(self, request_id: str, *, granted: bool, message: str = "") -> None:
        azure_quota.decide(self, request_id, granted=granted, message=message)

    def seen(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method in ("PUT", "PATCH", "DELETE")]

    # ---- request handling ------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        split = urlsplit(target)
        route, match = next(
            (
                (name, m)
                for methods, name, rx in ROUTES
                if method in methods.split() and (m := rx.match(split.path))
            ),
            (None, None),
        )
        authorized = headers.get("authorization") == f"Bearer {self.token}"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = Recorded(
            method,
            split.path,
            parse_qs(split.query),
            route,
            authorized,
            body,
            {k: v for k, v in headers.items() if k != "authorization"},
        )
        self.requests.append(record)
        reply = self._answer(route, match, record)
        record.status = reply.status
        if route in self.after_answer and reply.status:
            self.after_answer[route](record)
        if reply.status == 0:  # a fault: record what the client will see (None: no answer)
            fault = reply.body
            record.status = {"status": fault.status, "timeout": None}.get(fault.kind, 200)
        return reply

    def _answer(self, route: str | None, match: re.Match[str] | None, rec: Recorded) -> Reply:
        if route is None or match is None:
            return _error(404, "NotFound", f"no emulated API at {rec.method} {rec.path}")
        if not rec.authorized:
            return _error(401, "AuthenticationFailed", "missing or wrong bearer token")
        time.sleep(self.latency.get(route, 0))
        fault = self._take_fault(route, rec.method)
        if fault is not None:
            return Reply(0, fault)  # status 0: the handler acts the fault out
        try:
            return HANDLERS[route](self, match.groupdict(), rec)
        except Reply as reply:
            return reply

    def _take_fault(self, route: str, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults.get(route, []):
                if fault.method is not None and fault.method != method:
                    continue
                if fault.times is None:
                    return fault
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # ---- state served from the snapshot ----------------------------------------------------

    def load(self, rel: str) -> Any:
        """The snapshot's file (or what writes made of it); missing = 403 like a denied read."""
        with self._lock:
            if rel not in self._state:
                path = self.snapshot / rel
                if not path.is_file():
                    raise _error(
                        403,
                        "AuthorizationFailed",
                        f"The client does not have authorization to read this ({rel} unknown)",
                    )
                self._state[rel] = json.loads(path.read_text(encoding="utf-8"))
            return copy.deepcopy(self._state[rel])

    def store(self, rel: str, data: Any) -> None:
        with self._lock:
            self._state[rel] = copy.deepcopy(data)

    def etag(self, key: str, bump: bool = False) -> str:
        with self._lock:
            self._etags[key] = self._etags.get(key, 1) + (1 if bump else 0)
            return f'"{key.rsplit("/", 1)[-1]}-{self._etags[key]}"'
