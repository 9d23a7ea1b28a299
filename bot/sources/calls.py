"""Timing and failure classes of every real call to an outside API, for /metrics and the logs.

Latency covers the whole call, retries included: what a diagnosis waits for. Errors count
failed *attempts*, so a 429 that a retry got past still shows as `throttled`: a throttled or
flaky API is visible before it costs a finding. Reason classes: timeout, throttled (429),
4xx, 5xx, transport (connect, TLS, cut-off body), malformed (a body that does not parse or
lacks its shape), partial (Log Analytics answered with an error beside partial rows).
Used by bot.sources (Kubernetes, ARM, Log Analytics) and bot.slack (the Web API).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bot import metrics

log = logging.getLogger("gpubot.calls")
REASONS = ("timeout", "throttled", "4xx", "5xx", "transport", "malformed", "partial")


def status_reason(status: int | None) -> str | None:
    """The reason class of an HTTP status; None for a success."""
    if status is None or status < 400:
        return None
    if status == 429:
        return "throttled"
    return "5xx" if status >= 500 else "4xx"


def failed(source: str, reason: str) -> None:
    metrics.SOURCE_ERRORS.labels(source, reason).inc()


@contextmanager
def timed(source: str, operation: str) -> Iterator[None]:
    """Observe the block's wall time as one call, and log it at DEBUG (with the request id)."""
    started = time.monotonic()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    finally:
        seconds = time.monotonic() - started
        metrics.SOURCE_CALL_SECONDS.labels(source, operation).observe(seconds)
        log.debug(
            "%s %s: %s in %d ms",
            source,
            operation,
            outcome,
            round(seconds * 1000),
            extra={
                "source": source,
                "operation": operation,
                "outcome": outcome,
                "duration_ms": round(seconds * 1000),
            },
        )
