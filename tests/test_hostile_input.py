"""Issue 8 hostile input, property-based: slash command text, alert payloads, KQL literals.
Each input gets a clear error or is ignored, never a crash."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine.loader import load_catalog
from bot.engine.runner import diagnose
from bot.slack import alerts
from bot.slack.commands import UsageError, parse
from bot.slack.web import WebApp
from bot.sources import kql
from bot.sources.base import BadInput
from bot.sources.snapshot import SnapshotSource
from tests.conftest import ROOT

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLUSTERS = ["gpu-prod", "gpu-dev"]
WORDS = st.sampled_from(
    [
        "diagnose",
        "morning",
        "help",
        "gpu-prod",
        "gpu-dev",
        "ns/ws",
        "ns/",
        "<!channel>",
        "<@U123>",
        "<!here|here>",
        "a/b/c",
        "`x`",
        "*",
    ]
)
TEXT = st.one_of(st.text(), st.lists(WORDS, max_size=6).map(" ".join))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "alerts",
                    "labels",
                    "annotations",
                    "data",
                    "essentials",
                    "alertContext",
                    "blocks",
                    "attachments",
                    "elements",
                    "type",
                    "status",
                    "alertRule",
                    "subtype",
                    "bot_id",
                    "fields",
                    "title",
                    "value",
                    "commonLabels",
                    "x",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@SETTINGS
@given(TEXT)
def test_slash_command_text_raises_only_usage_error_and_echoes_no_mention(text: str) -> None:
    try:
        parse(text, CLUSTERS)
    except UsageError as exc:
        message = str(exc)
        assert "<!" not in message and "<@" not in message, message


@SETTINGS
@given(st.dictionaries(st.text(max_size=10), JSONISH, max_size=6) | JSONISH)
def test_alert_parsers_never_crash_on_arbitrary_json(payload) -> None:
    for parser in (
        alerts.from_slack_message,
        alerts.from_alertmanager_webhook,
        alerts.from_azure_monitor_webhook,
    ):
        if not isinstance(payload, dict):
            continue
        parser(payload)


@SETTINGS
@given(st.text())
def test_kql_string_literal_stays_one_literal(value: str) -> None:
    try:
        text = kql.string_literal(value)
    except kql.KqlError:
        return
    assert kql.tokens(text) == [("string", text)]
    query = kql.with_params("T | where Name == {name} | take 1", name=value)
    assert query == f"T | where Name == {text} | take 1"
    head, tail = kql.tokens("T | where Name == "), kql.tokens(" | take 1")
    assert kql.tokens(query) == [*head, ("string", text), *tail]


# ---- the /alerts/* endpoints, in process through WSGI: garbage answers 4xx, never 500 ----------

SECRET = "webhook-secret-canary"


def _call(app: WebApp, path: str, body: bytes, *, auth: str | None = None, query: str = "") -> int:
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "POST",
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    seen: list[str] = []
    b"".join(app(environ, lambda status, headers: seen.append(status)))
    return int(seen[0].split()[0])


def _app() -> WebApp:
    return WebApp(triage=lambda alert: True, webhook_secret=SECRET)


@SETTINGS
@given(
    st.sampled_from(["/alerts/alertmanager", "/alerts/azure-monitor"]),
    st.binary(max_size=200) | JSONISH.map(lambda v: json.dumps(v).encode()),
)
def test_alert_endpoints_answer_garbage_with_4xx_never_500(path: str, body: bytes) -> None:
    status = _call(_app(), path, body, auth=f"Bearer {SECRET}")
    assert status in (202, 400), status


def test_webhook_shared_secret_bearer_and_query_token() -> None:
    app, path, body = _app(), "/alerts/alertmanager", b'{"alerts": []}'
    assert _call(app, path, body, auth=f"Bearer {SECRET}") == 202
    assert _call(app, path, body, query=f"token={SECRET}") == 202
    assert _call(app, path, body, auth="Bearer wrong") == 401
    assert _call(app, path, body, query="token=wrong") == 401
    assert _call(app, path, body) == 401
    assert _call(app, path, body, auth=SECRET) == 401  # not a Bearer header
    off = WebApp(triage=None, webhook_secret=None)
    assert _call(off, path, body, auth="Bearer ") == 401  # no secret configured: webhooks off


# ---- snapshot files: a mutated JSON file is refused as BadInput naming it; a diagnosis of it
# never raises ----------------------------------------------------------------------------------

SNAPSHOT = ROOT / "tests/scenarios/healthy"
SNAPSHOT_FILES = sorted(
    str(p.relative_to(SNAPSHOT)) for p in SNAPSHOT.rglob("*.json") if p.stat().st_size < 200_000
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SNAPSHOT_FILES),
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from(["truncate", "garbage", "retype"]),
)
def test_mutated_snapshot_file_is_bad_input_naming_it(rel: str, at: int, how: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snap"
        shutil.copytree(SNAPSHOT, snap)
        target = snap / rel
        text = target.read_text()
        cut = at % max(1, len(text))
        mutated = {
            "truncate": text[:cut],
            "garbage": text[:cut] + "\x00}{" + text[cut:],
            "retype": json.dumps([1, "x", None]),
        }[how]
        target.write_text(mutated)
        try:
            source = SnapshotSource(snap)
        except BadInput as exc:
            assert Path(rel).name in str(exc), str(exc)
            return
        catalog = load_catalog()
        diagnosis = diagnose(catalog.select(catalog.runbook("triage").playbooks), source)
        assert diagnosis.findings
        for finding in diagnosis.findings:
            for step in finding.steps:
                for line in step.lines:
                    assert "Traceback" not in line
