"""What every Azure client here shares: credential, TLS trust, timeouts, bounded retries, reasons.

azure.* is imported inside functions only: `gpubot diagnose --snapshot` must never pay for the
SDK imports (CLI start-up time), and nothing outside bot/sources and bot/settings imports them.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.model.text import clip
from bot.sources import calls

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_LOGS_ENDPOINT = "https://api.loganalytics.io/v1"


class StaticTokenCredential:
    """A TokenCredential that returns one bearer token (GPUBOT_AZURE_TOKEN: tests, emulators)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        # An hour ahead so the SDK never tries to refresh what it cannot refresh.
        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "StaticTokenCredential(<redacted>)"


def default_credential() -> Any:
    """DefaultAzureCredential: workload identity in AKS, az login on a laptop."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@dataclass(frozen=True)
class ClientOptions:
    """Transport and retry settings for every client (per-call timeouts, bounded retries)."""

    ca_bundle: Path | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.8
    backoff_max: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After gives up now instead of hanging
    total_timeout: float = 90.0
    # Seconds between polls of a long-running write when the service sends no Retry-After
    # (None: the SDK's 30 s). Emulator tests set 0: their writes finish in the first answer.
    polling_interval: float | None = None
    # How long a fix waits for a long-running write (an AKS update can take many minutes)
    # before it reports "accepted, still applying" instead of holding a worker.
    lro_wait: float = 120.0

    def kwargs(self, source: str = "arm") -> dict[str, Any]:
        """Client keyword arguments; `source` labels the client's calls on /metrics."""
        out: dict[str, Any] = {
            "connection_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "retry_policy": bounded_retry(self),
            # after the retry policy: sees every attempt, not only the last
            "per_retry_policies": [_attempt_meter_class()(source)],
        }
        if self.polling_interval is not None:
            out["polling_interval"] = self.polling_interval
        if self.ca_bundle is not None:
            out["connection_verify"] = trust_bundle(str(self.ca_bundle))
        return out


def bounded_retry(options: ClientOptions) -> Any:
    return _retry_class()(
        max_retry_after=options.max_retry_after,
        retry_total=options.retries,
        retry_connect=options.retries,
        retry_read=options.retries,
        retry_status=options.retries,
        retry_backoff_factor=options.backoff,
        retry_backoff_max=options.backoff_max,
        timeout=options.total_timeout,
    )


@functools.cache
def _retry_class() -> type:
    from azure.core.pipeline.policies import RetryPolicy

    class BoundedRetryPolicy(RetryPolicy):  # type: ignore[misc]
        """azure-core's RetryPolicy (honours Retry-After on 429/503) with a ceiling on the wait."""

        def __init__(self, *, max_retry_after: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.max_retry_after = max_retry_after

        def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
            after = self.get_retry_after(response)
            if after is not None and after > self.max_retry_after:
                return False
            return bool(super().is_retry(settings, response))

    return BoundedRetryPolicy


@functools.cache
def _attempt_meter_class() -> type:
    from azure.core import exceptions as az
    from azure.core.pipeline.policies import HTTPPolicy

    class AttemptMeter(HTTPPolicy):  # type: ignore[misc]
        """Counts each failed attempt (`gpubot_source_errors_total`) by reason class."""

        def __init__(self, source: str) -> None:
            super().__init__()
            self.source = source

        def send(self, request: Any) -> Any:
            try:
                response = self.next.send(request)
            except (az.ServiceRequestTimeoutError, az.ServiceResponseTimeoutError):
                calls.failed(self.source, "timeout")
                raise
            except az.ClientAuthenticationError:
                calls.failed(self.source, "4xx")  # no token: refused as surely as a 401
                raise
            except Exception:
                calls.failed(self.source, "transport")
                raise
            reason = calls.status_reason(response.http_response.status_code)
            if reason:
                calls.failed(self.source, reason)
            return response

    return AttemptMeter


def is_malformed(exc: BaseException) -> bool:
    """A body that arrived whole but does not parse: counted here, since the pipeline saw a
    200. A body cut short (IncompleteReadError) failed inside the pipeline: transport."""
    from azure.core import exceptions as az

    if isinstance(exc, az.IncompleteReadError):
        return False
    return isinstance(exc, az.DecodeError | az.DeserializationError)


@functools.cache
def trust_bundle(extra: str) -> str:
    """Default CA bundle plus `extra` in one private file: GPUBOT_CA_BUNDLE adds, never replaces."""
    parts = []
    try:
        import certifi

        parts.append(Path(certifi.where()).read_text(encoding="utf-8"))
    except (ImportError, OSError):
        pass
    parts.append(Path(extra).read_text(encoding="utf-8"))
    fd, path = tempfile.mkstemp(prefix="gpubot-ca-", suffix=".pem")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(parts))
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def failure_reason(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """A short, token-free reason for an Answer.missing: `403 AuthorizationFailed: ...`."""
    from azure.core import exceptions as az

    if isinstance(exc, az.IncompleteReadError):
        text = "response body cut short (connection closed mid-body)"
    elif isinstance(exc, az.DecodeError):
        text = f"malformed response body ({clip(str(exc.message or exc), 80)})"
    elif isinstance(exc, az.HttpResponseError) and exc.status_code is not None:
        text = f"{exc.status_code} {_error_code(exc)}: {clip(_error_message(exc), 160)}"
        after = exc.response.headers.get("Retry-After") if exc.response is not None else None
        if after:
            text += f" (Retry-After {after} s)"
    elif isinstance(exc, az.ServiceResponseTimeoutError | az.ServiceRequestTimeoutError):
        text = "timeout (no answer in time, retries exhausted)"
    elif isinstance(exc, az.ServiceRequestError):
        text = f"cannot connect: {clip(_root_cause(exc), 120)}"
    elif isinstance(exc, az.ServiceResponseError):
        text = f"connection broken: {clip(_root_cause(exc), 120)}"
    elif isinstance(exc, az.ClientAuthenticationError):
        text = f"no Azure credential: {clip(str(exc), 160)}"
    else:
        text = f"{type(exc).__name__}: {clip(str(exc), 160)}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def _error_code(exc: Any) -> str:
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", None) or exc.reason or "error")


def _error_message(exc: Any) -> str:
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None)
    if message:
        return str(message)
    # Without a parsed ARM error, the first line of azure-core's message is the service's text.
    return str(exc.message or exc).splitlines()[0]


def _root_cause(exc: BaseException) -> str:
    inner: BaseException = exc
    for _ in range(10):  # chains are short; the bound only guards against a cycle
        nxt = inner.__cause__ or inner.__context__
        if nxt is None:
            break
        inner = nxt
    text = str(inner) or type(inner).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text
