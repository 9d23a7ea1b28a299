"""Log Analytics queries through azure-monitor-query's LogsQueryClient.

The answer is the REST body (`{"tables": [...]}`) exactly as the service sent it, captured with
azure-core's `raw_response_hook`: the SDK's own rows turn datetime columns into Python objects,
and re-printing them would not give back the service's text, so live and snapshot answers
would differ. The SDK still does the request, auth, retries and error mapping.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from bot.model.evidence import known_queries
from bot.sources.azure_common import DEFAULT_LOGS_ENDPOINT, ClientOptions


class Unavailable(Exception):
    """The service answered, but not with evidence we can use (partial result, bad shape).
    `reason` is its class on /metrics (partial, malformed); None when no call failed."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


SOURCE = "loganalytics"  # its calls' label on /metrics
# Log Analytics queries are reads sent as POST; retry them like GETs.
_RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})


def query_text(query_id: str) -> str:
    text = known_queries()[query_id]
    if text.splitlines()[0].strip() != f"// gpubot:{query_id}":
        # The emulator and offline snapshots pick the answer by this first line (DESIGN.md).
        raise Unavailable(f"bot/queries/{query_id}.kql does not start with // gpubot:{query_id}")
    return text


class LogAnalyticsReader:
    def __init__(
        self,
        credential: Any,
        endpoint: str = DEFAULT_LOGS_ENDPOINT,
        options: ClientOptions | None = None,
    ) -> None:
        self.credential = credential
        self.endpoint = endpoint
        self.options = options or ClientOptions()
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.monitor.query import LogsQueryClient

                self._client = LogsQueryClient(
                    self.credential,
                    endpoint=self.endpoint,
                    **self.options.kwargs(source=SOURCE),
                )
            return self._client

    def query_body(
        self, workspace_id: str, query_id: str, now: datetime, window: timedelta
    ) -> dict[str, Any]:
        """The query API's response body; raises on any failure (the caller names the reason)."""
        from azure.monitor.query import LogsQueryStatus

        seen: list[Any] = []
        result = self.client().query_workspace(
            workspace_id,
            query_text(query_id),
            timespan=(now - window, now),
            raw_response_hook=lambda response: seen.append(response.http_response),
            retry_on_methods=_RETRY_METHODS,
        )
        if result.status != LogsQueryStatus.SUCCESS:
            error = getattr(result, "partial_error", None)
            detail = f"{getattr(error, 'code', '')}: {getattr(error, 'message', '')}".strip(": ")
            # Partial rows could hide the very pattern a row looks for: not evidence of absence.
            raise Unavailable(
                f"partial result ({detail or 'service returned an error'})", reason="partial"
            )
        body = seen[-1].json() if seen else None
        if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
            raise Unavailable("response has no tables", reason="malformed")
        return body
