"""gpubot's own Prometheus metrics (served on /metrics by `gpubot serve`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

DIAGNOSES = Counter(
    "gpubot_diagnoses_total",
    "Diagnoses run, by trigger and outcome",
    ["trigger", "outcome"],
    registry=REGISTRY,
)
FINDINGS = Counter(
    "gpubot_findings_total",
    "Findings produced, by playbook and verdict",
    ["playbook", "verdict"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "gpubot_alerts_total",
    "Alerts received, by source and status",
    ["source", "status"],
    registry=REGISTRY,
)
# Every real call to an outside API: the evidence sources and Slack (bot/sources/calls.py).
SOURCE_CALL_SECONDS = Histogram(
    "gpubot_source_call_seconds",
    "Calls to an outside API, retries included, by source (kubernetes, arm, loganalytics, "
    "slack) and operation",
    ["source", "operation"],
    registry=REGISTRY,
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SOURCE_ERRORS = Counter(
    "gpubot_source_errors_total",
    "Failed attempts at an outside API (each retry counts), by source and reason: timeout, "
    "throttled, 4xx, 5xx, transport, malformed, partial",
    ["source", "reason"],
    registry=REGISTRY,
)
THREAD_REPLIES_DROPPED = Counter(
    "gpubot_slack_thread_replies_dropped_total",
    "Detail replies of a diagnosis that Slack did not take after the client's retries (the "
    "summary stands and the other replies are still posted)",
    registry=REGISTRY,
)
SUMMARY_FALLBACKS = Counter(
    "gpubot_slack_summary_fallbacks_total",
    "Summaries posted as a new message because the progress message could not be updated "
    "into them (deleted, not editable, too long for an edit, Slack failing), by reason",
    ["reason"],
    registry=REGISTRY,
)
QUEUE = Gauge("gpubot_diagnosis_queue_depth", "Diagnoses running or waiting", registry=REGISTRY)
BUSY = Counter(
    "gpubot_busy_rejections_total",
    "Requests answered 'busy' because the pool was full",
    registry=REGISTRY,
)
DURATION = Histogram(
    "gpubot_diagnosis_seconds",
    "Wall time of a diagnosis",
    ["trigger"],
    registry=REGISTRY,
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
WEBHOOK_REJECTED = Counter(
    "gpubot_webhook_rejected_total",
    "Alert webhooks refused, by reason",
    ["reason"],
    registry=REGISTRY,
)
FIX_ATTEMPTS = Counter(
    "gpubot_fix_attempts_total",
    "Fix attempts, by fix and outcome (refused, applied, failed, conflict, verified, ...)",
    ["fix", "outcome"],
    registry=REGISTRY,
)
