"""Parsing `/gpu` text and alert posts (Alertmanager, Azure Monitor, PagerDuty, plain text)."""

from __future__ import annotations

import pytest

from bot.model.playbook import RunbookSpec
from bot.slack import alerts, commands

ROUTES = RunbookSpec.model_validate(
    {
        "id": "alert-routes",
        "title": "t",
        "routes": [
            {
                "name": "ws",
                "match": {"alertname": "KaitoWorkspaceNotReady"},
                "playbooks": ["quota-exhausted"],
            },
            {
                "name": "oom",
                "match": {"text": "CUDA out of memory"},
                "playbooks": ["oom-under-load"],
            },
            {
                "name": "sev",
                "match": {"alertname": "Kube.*", "labels": {"severity": "critical"}},
                "playbooks": ["pod-pending"],
            },
        ],
        "fallback": ["quota-exhausted", "pod-pending"],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", commands.Command("help")),
        ("diagnose", commands.Command("diagnose", "aks-a")),
        ("diagnose aks-b default/ws-1", commands.Command("diagnose", "aks-b", "default", "ws-1")),
        ("morning aks-b", commands.Command("morning", "aks-b")),
        ("diagnose team-a/", commands.Command("diagnose", "aks-a", "team-a", None)),
    ],
)
def test_commands_parse(text, expected) -> None:
    clusters = ["aks-a", "aks-b"] if "aks-b" in text else ["aks-a"]
    assert commands.parse(text, clusters) == expected


@pytest.mark.parametrize(
    "text",
    [
        "diagnose",
        "diagnose nope",
        "diagnose Bad/x",
        "diagnose a/b/c",
        "drain everything",
        "diagnose x/y z/w",
        "diagnose `rm -rf` <!channel>",
    ],
)
def test_commands_reject_with_a_reason(text) -> None:
    with pytest.raises(commands.UsageError) as exc:
        commands.parse(text, ["aks-a", "aks-b"])
    assert "<!" not in str(exc.value) and "`rm -rf`" not in str(exc.value)


def test_alertmanager_attachment_only_post() -> None:
    event = {
        "subtype": "bot_message",
        "bot_id": "B1",
        "text": "",
        "attachments": [
            {
                "title": "[FIRING:2] KaitoWorkspaceNotReady (default critical)",
                "text": "• *alertname:* `KaitoWorkspaceNotReady`\n• *namespace:* `default`\n"
                "• *workspace:* `workspace-llama-3-1-8b`\n• *severity:* `critical`",
                "color": "danger",
            }
        ],
    }
    alert = alerts.from_slack_message(event)
    assert alert is not None and alert.source == "alertmanager" and alert.status == "firing"
    assert alert.name == "KaitoWorkspaceNotReady"
    assert (alert.namespace, alert.workspace) == ("default", "workspace-llama-3-1-8b")
    assert alerts.route(alert, ROUTES) == ["quota-exhausted"]
    resolved = {
        **event,
        "attachments": [{**event["attachments"][0], "title": "[RESOLVED] KaitoWorkspaceNotReady"}],
    }
    again = alerts.from_slack_message(resolved)
    assert (
        again is not None and again.status == "resolved" and again.fingerprint == alert.fingerprint
    )


def test_azure_monitor_post_relayed_by_a_logic_app() -> None:
    event = {
        "bot_id": "B2",
        "text": "Azure Monitor alert *Fired*\nAlert rule: gpu-pool-node-not-ready\n"
        "Severity: Sev1\nmonitorCondition: Fired",
    }
    alert = alerts.from_slack_message(event)
    assert (
        alert is not None
        and alert.source == "azure-monitor"
        and alert.name == "gpu-pool-node-not-ready"
    )
    assert alert.status == "firing"


def test_pagerduty_incident_post() -> None:
    event = {
        "bot_id": "B3",
        "bot_profile": {"name": "PagerDuty"},
        "text": "",
        "attachments": [
            {
                "title": "#4521: KubePodCrashLooping workspace-phi-4-0",
                "fields": [
                    {"title": "Status", "value": "Triggered"},
                    {"title": "severity", "value": "critical"},
                ],
            }
        ],
    }
    alert = alerts.from_slack_message(event)
    assert alert is not None and alert.source == "pagerduty" and alert.name == "KubePodCrashLooping"
    assert alerts.route(alert, ROUTES) == ["pod-pending"]


def test_plain_text_routes_by_pattern_and_chatter_is_not_an_alert() -> None:
    oom = alerts.from_slack_message(
        {"user": "U1", "text": "vllm pod keeps dying: torch.OutOfMemoryError: CUDA out of memory"}
    )
    assert oom is not None and alerts.is_probably_alert(oom, ROUTES)
    assert alerts.route(oom, ROUTES) == ["oom-under-load"]
    chatter = alerts.from_slack_message({"user": "U1", "text": "anyone up for lunch?"})
    assert chatter is not None and not alerts.is_probably_alert(chatter, ROUTES)
    unknown = alerts.Alert("alertmanager", "SomethingElse", "firing")
    assert alerts.route(unknown, ROUTES) == ["quota-exhausted", "pod-pending"]


def test_webhook_payloads() -> None:
    am = alerts.from_alertmanager_webhook(
        {
            "alerts": [
                {
                    "status": "resolved",
                    "labels": {"alertname": "X", "namespace": "ml", "pod": "workspace-a-0"},
                    "annotations": {"summary": "s"},
                }
            ]
        }
    )
    assert (
        am[0].status == "resolved" and am[0].workspace == "workspace-a" and am[0].namespace == "ml"
    )
    az = alerts.from_azure_monitor_webhook(
        {
            "schemaId": "azureMonitorCommonAlertSchema",
            "data": {
                "essentials": {
                    "alertRule": "kaito-inference-5xx",
                    "severity": "Sev2",
                    "signalType": "Log",
                    "monitorCondition": "Resolved",
                    "configurationItems": ["aks-inference"],
                    "description": "d",
                },
                "alertContext": {},
            },
        }
    )
    assert az[0].name == "kaito-inference-5xx" and az[0].status == "resolved"
    assert alerts.from_azure_monitor_webhook({"data": {}}) == []


# Found by fuzz/alerts.py: a lone surrogate (JSON's "\\udd63" escape) in a post or webhook made
# Alert.fingerprint raise UnicodeEncodeError, so the alert crashed the triage instead of running.
def test_lone_surrogates_in_payloads_are_replaced_so_the_alert_stays_usable() -> None:
    posted = alerts.from_slack_message({"text": "GPU \udd63 alertname=Foo\ud800"})
    hooked = alerts.from_alertmanager_webhook(
        {
            "alerts": [
                {"labels": {"alertname": "A\ud800", "k\udc00": "v"}, "annotations": {"s": "\ud800"}}
            ]
        }
    )
    azure = alerts.from_azure_monitor_webhook(
        {"data": {"essentials": {"alertRule": "rule\ud800", "configurationItems": ["\udfff"]}}}
    )
    for alert in [posted, *hooked, *azure]:
        assert alert is not None and len(alert.fingerprint) == 32
        for text in [alert.name, alert.text, *alert.labels, *alert.labels.values()]:
            text.encode("utf-8")  # raises on a lone surrogate
    assert posted.text == "GPU ? alertname=Foo?"
    assert hooked[0].name == "A?"
