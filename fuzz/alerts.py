"""Fuzz the alert parsers of bot/slack/alerts.py with fuzzer-built JSON.

Slack message events, Alertmanager webhooks and Azure Monitor webhooks (Common Alert Schema)
are parsed without any exception whatever the payload holds. Every alert they return is well
formed (string name, status firing/resolved, string labels and text), and routing it through the
bundled `alert-routes` runbook gives only that runbook's playbooks.

An input that starts with `{` and is JSON is used as the payload itself (so real payloads seed
the corpus); any other input is turned into a JSON value by the FuzzedDataProvider.

    python fuzz/alerts.py [libFuzzer args] [corpus dirs]
"""

from __future__ import annotations

import json
import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["bot"]):  # coverage of our code only
    from bot.engine.loader import load_catalog
    from bot.slack import alerts

ROUTES = load_catalog().runbook("alert-routes")
KNOWN_PLAYBOOKS = {p for r in ROUTES.routes for p in r.playbooks} | set(ROUTES.fallback)
KEYS = [
    *("text", "attachments", "blocks", "elements", "fields", "title", "value", "pretext"),
    *("fallback", "bot_profile", "name", "alerts", "labels", "annotations", "status"),
    *("alertname", "namespace", "pod", "workspace", "data", "essentials", "alertRule"),
    *("monitorCondition", "severity", "configurationItems", "description", "signalType"),
]
TEXTS = [
    "[FIRING:2] KubePodCrashLooping",
    "[RESOLVED] GPUQuotaExhausted (ml/workspace-llama)",
    "*alertname:* `KaitoWorkspaceNotReady`\n*namespace:* ml",
    "Azure Monitor alert rule: gpu-quota, resolved",
    "PagerDuty #1234: triggered NodeNotReady",
    "pod=workspace-falcon-0 namespace=default",
    "resolved",
    "firing",
]


def build(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 8 if depth < 6 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(4) if fdp.ConsumeBool() else fdp.ConsumeRegularFloat()
    if kind == 3:
        return TEXTS[fdp.ConsumeIntInRange(0, len(TEXTS) - 1)]
    if kind == 4:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 200))
    if kind in (5, 6):
        return [build(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {key(fdp): build(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 5))}


def key(fdp: atheris.FuzzedDataProvider) -> str:
    if fdp.ConsumeIntInRange(0, 3):
        return KEYS[fdp.ConsumeIntInRange(0, len(KEYS) - 1)]
    return fdp.ConsumeUnicode(8)


def payload(data: bytes) -> Any:
    if data[:1] == b"{":
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            pass
    return build(atheris.FuzzedDataProvider(data))


def check_alert(alert: Any) -> None:
    assert isinstance(alert, alerts.Alert), alert
    assert isinstance(alert.name, str) and isinstance(alert.text, str), alert
    assert alert.status in ("firing", "resolved"), alert
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())
    assert len(alert.fingerprint) == 32
    namespace, workspace = alerts.namespaced_target(alert)
    assert namespace is None or isinstance(namespace, str)
    assert workspace is None or isinstance(workspace, str)
    assert isinstance(alerts.is_probably_alert(alert, ROUTES), bool)
    chosen = alerts.route(alert, ROUTES)
    assert chosen and set(chosen) <= KNOWN_PLAYBOOKS, chosen


def test_one_input(data: bytes) -> None:
    value = payload(data)
    # The endpoints hand the parsers a dict; a Slack event is always one.
    event = value if isinstance(value, dict) else {"text": value, "attachments": value}
    posted = alerts.from_slack_message(event)
    if posted is not None:
        check_alert(posted)
    for parser in (alerts.from_alertmanager_webhook, alerts.from_azure_monitor_webhook):
        found = parser(event)
        assert isinstance(found, list), found
        for alert in found:
            check_alert(alert)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
