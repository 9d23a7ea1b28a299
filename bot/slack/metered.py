"""Slack Web API calls on /metrics, through slack_sdk's own extension points.

`MeteredWebClient` times each `api_call` (every `chat_postMessage`, `chat_update`, ... goes
through it) by method. `AttemptMeter` is a retry handler that never retries: listed first, it
is asked after every attempt, success included (slack_sdk consults the handlers in order after
each try), and counts the failed ones; Bolt copies the handlers into the clients it makes per
request, so their failures count too.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.slack_response import SlackResponse

from bot.sources import calls

SOURCE = "slack"


def attempt_failure(response: HttpResponse | None, error: Exception | None) -> str | None:
    """The reason class of one attempt; None when it succeeded."""
    if error is not None and response is None:
        if isinstance(error, json.JSONDecodeError):
            return "malformed"  # a 200 whose body does not parse
        if isinstance(error, TimeoutError) or isinstance(
            getattr(error, "reason", None), TimeoutError
        ):
            return "timeout"
        return "transport"
    if response is None:
        return None
    reason = calls.status_reason(response.status_code)
    if reason is None and isinstance(response.body, dict) and response.body.get("ok") is False:
        return "4xx"  # Slack refuses with 200 {"ok": false, "error": ...}: a client error
    return reason


class AttemptMeter(RetryHandler):
    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # can_retry, not _can_retry: the base class stops asking after max_retry_count tries.
        reason = attempt_failure(response, error)
        if reason is not None:
            calls.failed(SOURCE, reason)
        return False


class MeteredWebClient(WebClient):
    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        with calls.timed(SOURCE, api_method):
            return super().api_call(api_method, **kwargs)
