"""The benchmark harness works end to end on a tiny cluster (no timing asserted: benchmarks
are not tests). Loopback only: both emulators, the CLI, the naive baseline and `gpubot serve`
answering signed slash commands."""

from __future__ import annotations

from bench.run import COLUMNS, Latency, run, table, targets


def test_runner_reports_every_column_and_no_repeated_call(tmp_path) -> None:
    report = run(
        nodes=20,
        pods=200,
        gpu_nodes=4,
        events=50,
        latency=Latency(0, 0, 0),
        work=tmp_path,
        acks=5,
    )
    assert [r.run for r in report.rows] == ["gpubot", "naive"]
    for row in report.rows:
        for column in COLUMNS:
            assert getattr(row, column) is not None, column
        assert row.questions > 0 and row.peak_rss_mb > 0
    gpubot, naive = report.rows
    assert gpubot.api_calls == gpubot.distinct_calls, "gpubot fetches each call once"
    assert naive.api_calls > naive.distinct_calls, "the baseline repeats itself"
    assert report.most_asked == 1, "the source is asked each question once"
    assert sum(report.calls_by_kind.values()) == gpubot.api_calls
    assert {"pod logs", "pod metrics", "pods per GPU node"} <= set(report.calls_by_kind)
    assert report.ack_ms["samples"] >= 5 and 0 < report.ack_ms["p50"] <= report.ack_ms["p99"]
    assert report.findings > 0
    text = table(report)
    for column in COLUMNS:
        assert column in text
    assert {t["target"] for t in targets(report)} >= {
        "API calls == distinct questions",
        "Slack ack p99 <= 300 ms while five triages run",
    }
