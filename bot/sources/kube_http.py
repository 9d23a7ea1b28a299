"""One Kubernetes API call: a timeout, bounded retries on 429/503 honouring Retry-After, and
every failure turned into a short, secret-free reason (`403 Forbidden: pods is forbidden: ...`,
`timeout after 10s`) that becomes `Answer.missing(question, reason)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException, OpenApiException

from bot.sources import calls

SOURCE = "kubernetes"
RETRYABLE = (429, 503)
REASON_CHARS = 300


class CallFailed(Exception):
    """A call that gave no usable body. `status` is the HTTP status when there was one."""

    def __init__(
        self, reason: str, status: int | None = None, body: str = "", elapsed: float = 0.0
    ) -> None:
        super().__init__(reason)
        self.reason, self.status, self.body, self.elapsed = reason, status, body, elapsed

    @property
    def timed_out(self) -> bool:
        return self.status is None and self.reason.startswith("timeout")


def clip(text: str, limit: int = REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_message(status: int | None, http_reason: str | None, body: str | None) -> str:
    """`403 Forbidden: <the Status object's message>` (or the body's first words)."""
    message = (body or "").strip()
    try:
        doc = json.loads(message)
        if isinstance(doc, dict) and doc.get("message"):
            message = str(doc["message"])
    except ValueError:
        pass
    phrase = http_reason
    if not phrase and status:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
    head = f"{status} {phrase}".strip()
    return clip(f"{head}: {message}" if message else head)


def transport_reason(exc: BaseException, timeout: float) -> str:
    """A transport failure in one line; never the request headers (they carry the token)."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        detail = str(exc).rsplit("]", 1)[-1].strip() or "failed to connect"
        return clip(f"cannot reach the Kubernetes API server: {detail}")
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"timeout after {timeout:g}s"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return clip(f"response cut off: {exc.args[0] if exc.args else exc}")
    return clip(f"{type(exc).__name__}: {exc}")


def retry_after(headers: Any, cap: float) -> float | None:
    value = (headers or {}).get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


@dataclass
class Caller:
    timeout: float = 10.0
    retries: int = 3
    max_sleep: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    @property
    def request_timeout(self) -> tuple[float, float]:
        return (min(self.timeout, 5.0), self.timeout)

    def read(
        self,
        call: Callable[[Any], Any],
        *,
        operation: str = "other",
        retry_503: bool = True,
        answers: Collection[int] = (),
    ) -> tuple[bytes, float]:
        """Run `call(request_timeout)`, read the whole body; (body, seconds of the last try).

        `retry_503=False` (proxied calls): a 503 without Retry-After is the backend's answer
        (e.g. "connection refused" from the pod), not API-server overload; do not retry it.
        `operation` names the call on /metrics; statuses in `answers` are expected answers
        (no previous container, CRD not installed), not errors, and are not counted as such.
        """
        with calls.timed(SOURCE, operation):
            return self._attempts(call, retry_503, answers)

    def _attempts(
        self, call: Callable[[Any], Any], retry_503: bool, answers: Collection[int]
    ) -> tuple[bytes, float]:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = call(self.request_timeout)
                try:
                    return bytes(response.data), time.monotonic() - started
                finally:
                    response.release_conn()
            except ApiException as exc:
                elapsed = time.monotonic() - started
                if exc.status not in answers:
                    calls.failed(SOURCE, calls.status_reason(exc.status) or "transport")
                wait = self._wait(exc, attempt, retry_503)
                if wait is None:
                    reason = status_message(exc.status, exc.reason, exc.body)
                    if attempt and exc.status in RETRYABLE:
                        reason = clip(f"{reason} (gave up after {attempt + 1} tries)")
                    raise CallFailed(reason, exc.status, exc.body or "", elapsed) from None
                self.sleep(wait)
                attempt += 1
            except (urllib3.exceptions.HTTPError, OSError, OpenApiException) as exc:
                elapsed = time.monotonic() - started
                reason = transport_reason(exc, self.timeout)
                calls.failed(SOURCE, "timeout" if reason.startswith("timeout") else "transport")
                raise CallFailed(reason, elapsed=elapsed) from None

    def _wait(self, exc: ApiException, attempt: int, retry_503: bool) -> float | None:
        if exc.status not in RETRYABLE or attempt >= self.retries:
            return None
        hinted = retry_after(exc.headers, self.max_sleep)
        if hinted is None and exc.status == 503 and not retry_503:
            return None
        return hinted if hinted is not None else min(0.25 * 2**attempt, self.max_sleep)


def parse_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting too deep to decode
        calls.failed(SOURCE, "malformed")
        raise CallFailed(clip(f"malformed JSON in the {what} response: {exc}")) from None
