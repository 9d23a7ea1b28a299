"""The HTTP side of `gpubot serve`: /healthz, /metrics, /alerts/* and (HTTP mode) /slack/events.

A plain WSGI application served by waitress; Bolt's own WSGI adapter handles /slack/events.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import metrics
from bot.slack import alerts, payload_shape

log = logging.getLogger("gpubot.web")
MAX_BODY = 1 << 20

StartResponse = Callable[..., Any]


def _reply(
    start: StartResponse, status: str, body: Any, ctype: str = "application/json"
) -> Iterable[bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    start(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
    return [data]


def _timestamp_parses(environ: dict[str, Any]) -> bool:
    try:
        int(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "0")
    except ValueError:
        return False
    return True


class WebApp:
    def __init__(
        self,
        *,
        triage: Callable[[alerts.Alert], bool] | None,
        webhook_secret: str | None,
        slack_handler: Callable[..., Iterable[bytes]] | None = None,
        healthy: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
    ) -> None:
        self.triage, self.secret, self.slack_handler, self.healthy = (
            triage,
            webhook_secret,
            slack_handler,
            healthy,
        )

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz":
            ok, detail = self.healthy()
            return _reply(
                start, "200 OK" if ok else "503 Service Unavailable", {"ok": ok, "detail": detail}
            )
        if path == "/metrics":
            return _reply(start, "200 OK", generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST)
        if path.startswith("/alerts/"):
            if method != "POST":
                return _reply(start, "405 Method Not Allowed", {"error": "POST only"})
            return self._alerts(path.removeprefix("/alerts/"), environ, start)
        if path == "/slack/events" and self.slack_handler is not None:
            if not _timestamp_parses(environ):
                # slack_sdk's verifier int()s this header, so text in it was a 500 and a
                # traceback in the log; such a request is unsigned: answer it as Bolt does
                return _reply(start, "401 Unauthorized", {"error": "invalid request"})
            return self._slack(environ, start)
        return _reply(start, "404 Not Found", {"error": "not found"})

    def _slack(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """Bolt's endpoint, after the body's shape is checked (bot.slack.payload_shape)."""
        assert self.slack_handler is not None
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        why = payload_shape.problem(body, str(environ.get("CONTENT_TYPE") or ""))
        if why:
            log.warning("a malformed interactivity payload was refused: %s", why)
            return _reply(start, "400 Bad Request", {"error": f"malformed payload: {why}"})
        # Bolt reads the body again: hand it the bytes already read.
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        return self.slack_handler(environ, start)

    def _authorized(self, environ: dict[str, Any]) -> bool:
        if not self.secret:
            return False  # no secret configured: the webhooks are off, never open
        header = environ.get("HTTP_AUTHORIZATION", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if not given:
            given = (parse_qs(environ.get("QUERY_STRING", "")).get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), self.secret.encode())

    def _alerts(self, kind: str, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        if kind not in ("alertmanager", "azure-monitor"):
            return _reply(start, "404 Not Found", {"error": "unknown alert source"})
        if not self._authorized(environ):
            metrics.WEBHOOK_REJECTED.labels("unauthorized").inc()
            return _reply(start, "401 Unauthorized", {"error": "missing or wrong shared secret"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            metrics.WEBHOOK_REJECTED.labels("too_large").inc()
            return _reply(start, "413 Payload Too Large", {"error": "body over 1 MiB"})
        try:
            payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            parsed = (
                alerts.from_alertmanager_webhook(payload)
                if kind == "alertmanager"
                else alerts.from_azure_monitor_webhook(payload)
            )
        except (ValueError, TypeError, AttributeError) as exc:
            metrics.WEBHOOK_REJECTED.labels("bad_payload").inc()
            return _reply(
                start, "400 Bad Request", {"error": f"not a {kind} payload: {type(exc).__name__}"}
            )
        accepted = 0
        for alert in parsed:
            metrics.ALERTS.labels(alert.source, alert.status).inc()
            if self.triage is not None and self.triage(alert):
                accepted += 1
        return _reply(start, "202 Accepted", {"alerts": len(parsed), "accepted": accepted})
