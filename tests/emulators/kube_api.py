"""A loopback Kubernetes API server that serves a snapshot directory, for the real client.

    with KubeApiEmulator(snapshot_dir) as api:
        source = KubeSource.from_kubeconfig(str(api.write_kubeconfig(tmp / "kubeconfig")))
        ...
        api.requests  # every request: method, path, query, body
        api.writes    # every non-GET request with its body

Routes: discovery (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`, `/version`); list
(cluster-wide and namespaced, `labelSelector`, `fieldSelector`, `limit`/`continue`); get;
create; merge and strategic-merge patch; replace (PUT); delete (with DeleteOptions
preconditions); `.../scale` (GET/PUT/PATCH); pod eviction (PDBs, preconditions);
pod log; pod proxy to `/metrics`; service proxy to the probe. Faults and latency are injected
per route (a regex over "METHOD /path"). See kube_store.py for what a missing file means.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests.emulators import kube_backends as backends
from tests.emulators.discovery import discovery
from tests.emulators.kube_backends import Reply
from tests.emulators.kube_status import ApiError
from tests.emulators.kube_store import KubeStore

TOKEN = "test-token-not-secret"
MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


@dataclass
class Fault:
    """kind: timeout (hang past the client's timeout, then drop), status (e.g. 429/500/503,
    optional Retry-After), malformed (200 with broken JSON), truncated (body shorter than its
    Content-Length), reset (close without answering). `times`: the first N matches; None: all."""

    kind: str
    status: int = 503
    retry_after: str | None = None
    times: int | None = None
    hang: float = 30.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str | None
    at: float


class KubeApiEmulator:
    def __init__(
        self,
        snapshot: Path | str,
        *,
        missing_crd_status: int = 404,
        latency_cap: float | None = None,
        token: str = TOKEN,
    ) -> None:
        self.store = KubeStore(snapshot, missing_crd_status=missing_crd_status)
        self.token, self.latency_cap = token, latency_cap
        self.requests: list[Recorded] = []
        self.writes: list[Recorded] = []
        self._faults: list[tuple[re.Pattern[str], Fault]] = []
        # SelfSubjectAccessReview answers: (apiGroup, resource[/subresource], verb) denied.
        self.deny: set[tuple[str, str, str]] = set()
        self._latency: list[tuple[re.Pattern[str], float]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> KubeApiEmulator:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads, server.block_on_close = True, False
        # A real API server accepts far more than socketserver's 5 pending connections; with
        # 5, a client opening its pool of 32 at once waits out 1 s SYN retransmits.
        server.socket.listen(128)
        server.emulator = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> KubeApiEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def write_kubeconfig(self, path: Path | str, context: str = "emulator") -> Path:
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": "gpubot", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": "gpubot"}}],
        }
        Path(path).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return Path(path)

    # ---- injection and inspection --------------------------------------------------------

    def fault(self, route: str, fault: Fault) -> None:
        with self._lock:
            self._faults.append((re.compile(route), fault))

    def latency(self, route: str, seconds: float) -> None:
        with self._lock:
            self._latency.append((re.compile(route), seconds))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()
            self.requests.clear()
            self.writes.clear()

    def seen(self, method: str = "GET", path: str = ".*") -> list[Recorded]:
        pattern = re.compile(path)
        return [r for r in list(self.requests) if r.method == method and pattern.fullmatch(r.path)]

    def _take_fault(self, key: str) -> Fault | None:
        with self._lock:
            for pattern, fault in self._faults:
                if pattern.search(key) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # ---- serving -------------------------------------------------------------------------

    def serve(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        record = Recorded(
            h.command, path, query, body, h.headers.get("Content-Type"), time.monotonic()
        )
        with self._lock:
            self.requests.append(record)
            if h.command != "GET":
                self.writes.append(record)
            delay = sum(s for p, s in self._latency if p.search(f"{h.command} {path}"))
        if delay:
            self._stopping.wait(delay)
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            return _send_error(h, ApiError(401, "Unauthorized", "Unauthorized"))
        fault = self._take_fault(f"{h.command} {path}")
        if fault is not None:
            return self._misbehave(h, fault)
        try:
            reply = self.route(record)
        except ApiError as exc:
            return _send_error(h, exc)
        if reply.delay:
            self._stopping.wait(reply.delay)
        if reply.status == 0:
            h.close_connection = True
            return None
        return _send(h, reply.status, reply.content_type, reply.body)

    def _access_review(self, doc: Any) -> Reply:
        with self._lock:
            deny = set(self.deny)
        return _access_review_reply(doc, deny)

    def _misbehave(self, h: _Handler, fault: Fault) -> None:
        if fault.kind in ("timeout", "reset"):
            if fault.kind == "timeout":
                self._stopping.wait(fault.hang)
            h.close_connection = True
        elif fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            reason = {429: "TooManyRequests", 500: "InternalError"}.get(
                fault.status, "ServiceUnavailable"
            )
            message = {429: "Too many requests, please try again later."}.get(
                fault.status, "the server is currently unable to handle the request"
            )
            _send_error(h, ApiError(fault.status, reason, message, headers))
        elif fault.kind == "malformed":
            _send(h, 200, "application/json", b'{"kind": "PodList", "items": [{"metadata": ')
        elif fault.kind == "truncated":
            body = json.dumps(
                {
                    "kind": "List",
                    "apiVersion": "v1",
                    "metadata": {},
                    "items": [{"metadata": {"name": "x" * 200}}],
                }
            ).encode()
            _send(h, 200, "application/json", body[: len(body) // 2], declared=len(body))
            h.close_connection = True

    def route(self, r: Recorded) -> Reply:
        if r.method == "POST" and r.path.rstrip("/") == SSAR_PATH:
            return self._access_review(r.body)
        parts = [p for p in r.path.split("/") if p]
        doc = discovery(self.store, parts, self.url)
        if doc is not None:
            return _json(200, doc)
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), rest[2:]
        verb = {
            "GET": "get" if name else "list",
            "POST": "create",
            "PATCH": "patch",
            "PUT": "update",
            "DELETE": "delete",
        }.get(r.method, r.method.lower())
        res = self.store.resolve(group, version, plural, ns, verb)
        store = self.store
        if name is None:
            if r.method == "GET":
                return _json(200, store.list(res, ns, r.query))
            if r.method == "POST" and isinstance(r.body, dict):
                return _json(201, store.create(res, ns, r.body))
        elif sub and sub[0] == "proxy" and plural in ("pods", "services") and ns:
            rest_path = "/".join(sub[1:])
            if plural == "pods":
                return backends.pod_proxy(store, ns, name, rest_path)
            return backends.service_proxy(store, ns, name, rest_path, self.latency_cap)
        elif not sub:
            if r.method == "GET":
                return _json(200, store.get(res, ns, name))
            if r.method == "PATCH":
                if r.content_type not in MERGE_TYPES:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        f"the emulator applies only {', '.join(MERGE_TYPES)}",
                    )
                return _json(200, store.patch(res, ns, name, r.body))
            if r.method == "PUT":
                return _json(200, store.replace(res, ns, name, r.body))
            if r.method == "DELETE":
                return _json(200, store.delete(res, ns, name, r.body))
        elif sub == ["scale"] and r.method in ("GET", "PUT", "PATCH"):
            return _json(200, store.scale(res, ns, name, None if r.method == "GET" else r.body))
        elif sub == ["eviction"] and plural == "pods" and r.method == "POST" and ns:
            return _json(201, store.evict(ns, name, r.body))
        elif sub == ["log"] and plural == "pods" and r.method == "GET" and ns:
            return backends.pod_log(store, ns, name, r.query)
        raise ApiError(
            405 if name else 404,
            "MethodNotAllowed" if name else "NotFound",
            f"{r.method} {r.path} is not served by the emulator",
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms ACK stalls
    server: ThreadingHTTPServer

    def _serve(self) -> None:
        self.server.emulator.serve(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        return


SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def _access_review_reply(doc: Any, deny: set[tuple[str, str, str]]) -> Reply:
    attrs = ((doc or {}).get("spec") or {}).get("resourceAttributes") or {}
    resource = attrs.get("resource", "")
    if attrs.get("subresource"):
        resource = f"{resource}/{attrs['subresource']}"
    allowed = (attrs.get("group", ""), resource, attrs.get("verb", "")) not in deny
    status = {"allowed": allowed}
    if not allowed:
        status["reason"] = "RBAC: no rule grants it"
    return _json(201, {**(doc or {}), "status": status})


def _json(status: int, doc: Any) -> Reply:
    return Reply(status, "application/json", json.dumps(doc).encode("utf-8"))


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    ctype: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    declared: int | None = None,
) -> None:
    try:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(declared if declared is not None else len(body)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        h.close_connection = True  # the client gave up (its timeout); nothing to tell it


def _send_error(h: BaseHTTPRequestHandler, exc: ApiError) -> None:
    body = json.dumps(exc.body()).encode("utf-8")
    _send(h, exc.code, "application/json", body, headers=exc.headers)
