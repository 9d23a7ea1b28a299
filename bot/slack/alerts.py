"""Recognise alerts in Slack posts and webhooks, and route them to playbooks.

Formats: Alertmanager's Slack notifier (one attachment: `[FIRING:1] Name (labels)`), its
webhook JSON, Azure Monitor's Common Alert Schema (webhook, or a post relayed by a Logic App),
PagerDuty incident posts, and plain text that names a symptom or a workspace.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from bot.model.playbook import RunbookSpec

VOLATILE_LABELS = {
    "pod",
    "instance",
    "pod_template_hash",
    "controller_revision_hash",
    "uid",
    "container_id",
}
_STATUS = re.compile(r"\[(FIRING|RESOLVED)(?::\d+)?\]\s*(.*)", re.IGNORECASE)
_LABEL_PAIR = re.compile(
    r"[*_]?\b([A-Za-z_][\w.-]{0,62})[*_]?\s*[:=]\s*[*_]?\s*[`\"']?([\w./:@-]{1,253})[`\"']?"
)
_NAMESPACED = re.compile(r"\b([a-z0-9][-a-z0-9]{0,62})/([a-z0-9][-a-z0-9.]{0,252})\b")


@dataclass(frozen=True)
class Alert:
    source: str  # alertmanager | azure-monitor | pagerduty | text
    name: str
    status: str  # firing | resolved
    labels: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        # JSON can carry lone surrogates (a "\ud800" escape), which cannot be encoded: they
        # would crash the fingerprint, the store and the Slack post later. Replace them here.
        object.__setattr__(self, "name", _encodable(self.name))
        object.__setattr__(self, "text", _encodable(self.text))
        labels = {_encodable(k): _encodable(v) for k, v in self.labels.items()}
        object.__setattr__(self, "labels", labels)

    @property
    def fingerprint(self) -> str:
        stable = sorted((k, v) for k, v in self.labels.items() if k not in VOLATILE_LABELS)
        basis = (
            f"{self.name}|{stable}" if self.name else f"text|{' '.join(self.text.split())[:200]}"
        )
        return hashlib.sha256(basis.encode()).hexdigest()[:32]

    @property
    def namespace(self) -> str | None:
        return self.labels.get("namespace") or self.labels.get("exported_namespace")

    @property
    def workspace(self) -> str | None:
        for key in ("workspace", "kaito_sh_workspace", "kaito.sh/workspace"):
            if self.labels.get(key):
                return self.labels[key]
        pod = self.labels.get("pod", "")
        return pod[:-2] if re.fullmatch(r".+-\d", pod) and pod.startswith("workspace-") else None


def _encodable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _dict(value: Any) -> dict[str, Any]:
    """Hostile payloads: a field that should be an object but is not reads as empty."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _attachment_text(att: dict[str, Any]) -> str:
    parts = [str(att.get(k) or "") for k in ("pretext", "title", "text", "fallback")]
    parts += [
        f"{f.get('title', '')}: {f.get('value', '')}"
        for f in _list(att.get("fields"))
        if isinstance(f, dict)
    ]
    return "\n".join(p for p in parts if p)


def _blocks_text(blocks: list[Any]) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def message_text(event: dict[str, Any]) -> str:
    """Everything readable in a Slack message: text, attachments (incl. fields), blocks."""
    parts = [str(event.get("text") or "")]
    parts += [_attachment_text(a) for a in _list(event.get("attachments")) if isinstance(a, dict)]
    parts.append(_blocks_text(event.get("blocks") or []))
    return "\n".join(p for p in parts if p.strip())


def _labels(text: str) -> dict[str, str]:
    labels = {
        k: v
        for k, v in _LABEL_PAIR.findall(text)
        if not k.lower().startswith("http") and k.upper() not in ("FIRING", "RESOLVED")
    }
    return {k: v for k, v in labels.items() if len(labels) < 64}


def from_slack_message(event: dict[str, Any]) -> Alert | None:
    """An alert in a channel post, or None when the post is not one."""
    text = message_text(event)
    if not text.strip():
        return None
    labels = _labels(text)
    for att in _list(event.get("attachments")):
        title = str(_dict(att).get("title") or "")
        match = _STATUS.match(title.strip())
        if match:  # Alertmanager's default Slack title
            status, rest = match.group(1).lower(), match.group(2).split()
            name = labels.get("alertname") or (rest[0] if rest else "")
            return Alert(
                "alertmanager", name, "resolved" if status == "resolved" else "firing", labels, text
            )
    lowered = text.lower()
    if "azure monitor" in lowered or "alert rule" in lowered or "monitorcondition" in lowered:
        rule = re.search(
            r"alert ?rule(?: name)?\s*[:=]?\s*[`*\"']*([\w .:/-]{1,120}?)[`*\"']*(?:\n|$|,)",
            text,
            re.I,
        )
        resolved = re.search(r"\b(resolved|deactivated)\b", lowered) is not None
        name = rule.group(1).strip() if rule else labels.get("alertRule", "")
        return Alert("azure-monitor", name, "resolved" if resolved else "firing", labels, text)
    incident = re.search(r"#(\d+)\s*[:\-]?\s*(.+)", text)
    if (
        incident
        and re.search(r"\b(triggered|acknowledged|resolved)\b", lowered)
        and "pagerduty" in lowered + str(_dict(event.get("bot_profile")).get("name", "")).lower()
    ):
        status = "resolved" if re.search(r"\bresolved\b", lowered) else "firing"
        title = incident.group(2).strip().splitlines()[0]
        return Alert("pagerduty", title.split()[0] if title else "", status, labels, text)
    return Alert("text", labels.get("alertname", ""), "firing", labels, text)


def from_alertmanager_webhook(payload: dict[str, Any]) -> list[Alert]:
    out = []
    for a in _list(payload.get("alerts")):
        a = _dict(a)
        labels = {str(k): str(v) for k, v in _dict(a.get("labels")).items()}
        text = "\n".join(str(v) for v in _dict(a.get("annotations")).values())
        status = "resolved" if a.get("status") == "resolved" else "firing"
        out.append(Alert("alertmanager", labels.get("alertname", ""), status, labels, text))
    return out


def from_azure_monitor_webhook(payload: dict[str, Any]) -> list[Alert]:
    data = _dict(payload.get("data"))
    ess = _dict(data.get("essentials"))
    if not ess:
        return []
    labels = {
        "severity": str(ess.get("severity", "")),
        "signalType": str(ess.get("signalType", "")),
        "monitoringService": str(ess.get("monitoringService", "")),
    }
    for target in _list(ess.get("configurationItems")):
        labels.setdefault("target", str(target))
    status = "resolved" if str(ess.get("monitorCondition", "")).lower() == "resolved" else "firing"
    text = f"{ess.get('alertRule', '')}\n{ess.get('description', '')}"
    return [Alert("azure-monitor", str(ess.get("alertRule", "")), status, labels, text)]


def route(alert: Alert, runbook: RunbookSpec) -> list[str]:
    """Playbook ids for an alert: every matching route, else the runbook's fallback."""
    chosen: list[str] = []
    for r in runbook.routes:
        m = r.match
        if m.alertname is not None and not re.fullmatch(m.alertname, alert.name or ""):
            continue
        if any(not re.fullmatch(p, alert.labels.get(k, "")) for k, p in m.labels.items()):
            continue
        if m.text is not None and not re.search(m.text, alert.text, re.IGNORECASE):
            continue
        chosen += [p for p in r.playbooks if p not in chosen]
    return chosen or list(runbook.fallback)


def is_probably_alert(alert: Alert, runbook: RunbookSpec) -> bool:
    """Plain chatter is not triaged: a text post must match a route to count as an alert."""
    if alert.source != "text":
        return True
    return any(
        r.match.text is not None and re.search(r.match.text, alert.text, re.IGNORECASE)
        for r in runbook.routes
    ) or bool(alert.name)


def namespaced_target(alert: Alert) -> tuple[str | None, str | None]:
    if alert.namespace:
        return alert.namespace, alert.workspace
    match = _NAMESPACED.search(alert.text)
    return (match.group(1), match.group(2)) if match else (None, None)
