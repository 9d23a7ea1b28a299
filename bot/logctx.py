"""Request ids and gpubot's log set-up.

Every log line of one Slack command, alert, webhook or CLI run carries the same `request_id`,
the evidence calls made for it in worker threads included: the id lives in a ContextVar, and
`submit` carries the caller's context into a ThreadPoolExecutor (its threads start with an
empty context otherwise). `configure` installs one stderr handler, JSON (`gpubot serve`) or
text, that stamps the id on every record and scrubs known secret values from it.

Standalone like bot.metrics: it imports nothing from bot, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gpubot_request_id", default=None
)
NO_REQUEST = "-"

# Environment variables whose values must never reach a log line (DESIGN.md, issue 8).
SECRET_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "GPUBOT_WEBHOOK_SECRET",
    "GPUBOT_AZURE_TOKEN",
    "GPUBOT_FIX_SIGNING_KEY",
)
REDACTED = "<redacted>"
# Shorter values are not real secrets, and replacing them would mangle every line they occur in.
MIN_SECRET_CHARS = 6
# Slack tokens have fixed prefixes: scrub any, not only the configured ones.
_SLACK_TOKEN = re.compile(r"\bx(?:ox[abeoprs]|app)-[A-Za-z0-9-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "request_id", "message"]
# What a bare LogRecord holds: anything else on a record came from `extra=` and is scrubbed too.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# ---- request ids ---------------------------------------------------------------------------


def current() -> str | None:
    return _REQUEST_ID.get()


@contextlib.contextmanager
def request(trigger: str, *, keep: bool = False) -> Iterator[str]:
    """Run the block under a new request id `<trigger>-<12 hex>`; with `keep`, under the
    current one when there is one (a job that may be called inside or outside a request)."""
    existing = _REQUEST_ID.get()
    if keep and existing:
        yield existing
        return
    token = _REQUEST_ID.set(f"{trigger}-{secrets.token_hex(6)}")
    try:
        yield str(_REQUEST_ID.get())
    finally:
        _REQUEST_ID.reset(token)


def submit(executor: Executor, fn: Callable[..., T], /, *args: Any) -> Future[T]:
    """`executor.submit(fn, *args)` run in a copy of the caller's context, so the request id
    follows the work into the pool's thread. One copy per task: a Context cannot be entered
    by two threads at once."""
    return executor.submit(contextvars.copy_context().run, fn, *args)


# ---- filters -------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Stamps `request_id` on every record (`-` outside any request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _REQUEST_ID.get() or NO_REQUEST
        return True


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The configured secret values, plus the password inside GPUBOT_DATABASE_URL."""
    env = os.environ if environ is None else environ
    values = [env.get(name) or "" for name in SECRET_ENV]
    with contextlib.suppress(ValueError):
        values.append(urlsplit(env.get("GPUBOT_DATABASE_URL") or "").password or "")
    return [v for v in values if len(v) >= MIN_SECRET_CHARS]


class SecretFilter(logging.Filter):
    """Replaces known secret values (and anything shaped like a Slack or bearer token) in the
    message, its arguments, `extra` fields and exception text with `<redacted>`.

    It formats the message itself (args applied, then scrubbed), so a secret passed as an
    argument is caught too. It runs on gpubot's handler and rewrites the record in place.
    """

    def __init__(self, values: Iterable[str]) -> None:
        super().__init__()
        # Longest first: a secret that contains another is replaced whole.
        self.values = sorted(set(values), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        text = _SLACK_TOKEN.sub(REDACTED, text)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, Mapping):  # a dict logged as the message (JSON logs)
            record.msg = self._clean(record.msg)
        else:
            try:
                message = record.getMessage()
            except Exception:  # mismatched args: keep the template, never the raw args
                message = f"{record.msg} (unformattable log arguments)"
            record.msg, record.args = self.scrub(message), None
        if record.exc_info:
            # Formatted once here so the traceback text is scrubbed before any handler sees it.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS:
                setattr(record, key, self._clean(value))
        return True


class SdkNoiseFilter(logging.Filter):
    """azure-core logs every request and response at INFO; gpubot's own per-call lines
    (DEBUG, with the request id) replace them, so below WARNING they pass only at DEBUG."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("azure.") and record.levelno < logging.WARNING:
            return self.level <= logging.DEBUG
        return True


# ---- set-up --------------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at emit time (pytest swaps it per test)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    return logging.Formatter(TEXT_FORMAT)


def configure(
    fmt: str = "text", *, level: int = logging.INFO, environ: Mapping[str, str] | None = None
) -> logging.Handler:
    """Install gpubot's stderr handler on the root logger, replacing an earlier one.

    The root logger's level is only ever lowered (to `level`), never raised, so a test or
    embedding program that asked for more detail keeps it.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setLevel(level)
    handler.addFilter(SdkNoiseFilter(level))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(SecretFilter(secret_values(environ)))
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    if root.level > level:
        root.setLevel(level)
    return handler
