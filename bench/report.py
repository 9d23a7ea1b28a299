"""The benchmark's report: the rows side by side, the calls by kind, and issue 7's targets
met or missed for the gpubot row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COLUMNS = (
    "run",
    "critical_path_s",
    "triage_span_s",
    "ratio",
    "startup_s",
    "api_calls",
    "distinct_calls",
    "questions",
    "peak_rss_mb",
)


@dataclass
class Latency:
    kube: float = 0.05
    arm: float = 0.15
    logs: float = 0.8


@dataclass
class Row:
    run: str
    critical_path_s: float
    triage_span_s: float
    ratio: float
    startup_s: float | None
    api_calls: int
    distinct_calls: int
    questions: int
    peak_rss_mb: float


@dataclass
class Report:
    cluster: dict[str, int]
    latency: dict[str, float]
    rows: list[Row] = field(default_factory=list)
    per_question_s: dict[str, float] = field(default_factory=dict)
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    most_asked: int = 0  # the most times the source was asked one question in the triage
    ack_ms: dict[str, float] = field(default_factory=dict)  # p50, p99, max, samples, waves
    findings: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": targets(self)}


def targets(report: Report) -> list[dict[str, Any]]:
    """The issue 7 targets, met or missed, for the gpubot row."""
    g = next(r for r in report.rows if r.run == "gpubot")
    big = report.cluster["pods"] >= 150_000
    out: list[tuple[str, Any, float]] = [
        ("triage span <= 1.25x critical path", g.ratio, 1.25),
        ("CLI start-up <= 1.5 s", g.startup_s, 1.5),
        ("API calls == distinct questions", g.api_calls, g.questions),
        ("no call repeated (API calls == distinct calls)", g.api_calls, g.distinct_calls),
        ("each question fetched once (most asks of one question)", report.most_asked, 1),
    ]
    if report.ack_ms:
        out.append(("Slack ack p99 <= 300 ms while five triages run", report.ack_ms["p99"], 300))
    if big:
        out += [
            ("large cluster: triage <= 1.5x critical path", g.ratio, 1.5),
            ("large cluster: peak RSS <= 300 MB", g.peak_rss_mb, 300.0),
        ]
    return [
        {
            "target": name,
            "value": value,
            "limit": limit,
            "met": value is not None and value <= limit,
        }
        for name, value, limit in out
    ]


def table(report: Report) -> str:
    lines = [
        f"cluster {report.cluster}  latency {report.latency}",
        "  ".join(f"{c:>15}" for c in COLUMNS),
    ]
    for row in report.rows:
        cells = []
        for c in COLUMNS:
            v = getattr(row, c)
            cells.append(f"{v:>15.3f}" if isinstance(v, float) else f"{v!s:>15}")
        lines.append("  ".join(cells))
    if report.calls_by_kind:
        kinds = ", ".join(f"{k} {n}" for k, n in report.calls_by_kind.items())
        lines += ["", f"gpubot calls by kind: {kinds}"]
    if report.ack_ms:
        a = report.ack_ms
        lines.append(
            f"Slack acks while {a['triages']:.0f} triages run: {a['samples']:.0f} samples in "
            f"{a['waves']:.0f} waves, p50 {a['p50']:.0f} ms, p99 {a['p99']:.0f} ms, "
            f"max {a['max']:.0f} ms"
        )
    lines.append("")
    for t in targets(report):
        mark = "MET   " if t["met"] else "MISSED"
        value = t["value"] if not isinstance(t["value"], float) else round(t["value"], 3)
        lines.append(f"{mark} {t['target']}: {value} (limit {t['limit']})")
    return "\n".join(lines)
