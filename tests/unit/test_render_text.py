"""Terminal text renderer: every finding, confirmed first, nothing dropped, colour on demand."""

from __future__ import annotations

import re

import pytest

from bot.model.verdicts import Diagnosis, Finding, StepOutcome
from bot.render import text
from bot.render.filters import cut, mrkdwn, reflow, unmrkdwn, wrap
from tests.unit._render_samples import (
    C,
    Q,
    R,
    big_diagnosis,
    engine_diagnosis,
    finding,
    small_diagnosis,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def flat(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture(scope="module")
def real() -> Diagnosis:
    return engine_diagnosis("quota-exhausted/confirmed")


def test_header_and_counts(real: Diagnosis) -> None:
    out = text.render(real)
    first, second = out.splitlines()[:2]
    assert first == "GPU diagnosis · aks-inference · eastus2 · 2026-11-27T07:40:00Z"
    c, n = real.counts(), len(real.findings)
    assert second == (
        f"{n} check{'s' if n != 1 else ''} (triage runbook, snapshot): "
        f"🔴 {c['confirmed']} confirmed · ❔ {c['inconclusive']} inconclusive"
        f" · ✅ {c['ruled_out']} ruled out"
    )


def test_confirmed_finding_in_full(real: Diagnosis) -> None:
    out = text.render(real)
    f = real.findings[0]
    assert "🔴 GPU family quota exhausted  row 1 · quota-exhausted · confirmed" in out
    assert "   Owner: Cloud platform / FinOps" in out
    for o in f.steps:
        assert re.search(rf"^     . {o.step} \({o.role}\) ", out, re.M)
        for line in o.lines:
            assert flat(line) in flat(out)  # wrapped, never cut
    assert "     • Request a GPU family quota increase [request-quota]" in out
    assert "risk low · no approval needed · not reversible" in out
    assert "family=standardNCADSA100v4Family, location=eastus2, new_limit=48" in out
    # The playbook's hard-wrapped YAML prose is reflowed, then wrapped at the terminal width.
    assert flat(f.diagnosis) in flat(out)
    assert "More: https://learn.microsoft.com/azure/quotas/per-vm-quota-requests" in out


def test_plain_has_no_escape_codes_and_colour_has(real: Diagnosis) -> None:
    plain = text.render(real, color=False)
    coloured = text.render(real, color=True)
    assert "\x1b" not in plain
    assert ANSI.search(coloured)
    # Colour changes only the styling, never the characters.
    assert ANSI.sub("", coloured).rstrip("\n") == plain.rstrip("\n")


def test_colour_keeps_brackets_in_evidence_literal() -> None:
    step = StepOutcome(
        step="vllm-kv-cache",
        role="cause",
        verdict=C,
        lines=('[bold]not markup[/bold] vllm:kv_cache_usage_perc{model_name="x"} 0.97 :smile:',),
        sources=("kubernetes/pod-metrics",),
    )
    f = finding(1, C).model_copy(update={"steps": (step,)})
    out = ANSI.sub("", text.render(small_diagnosis(f), color=True))
    assert '[bold]not markup[/bold] vllm:kv_cache_usage_perc{model_name="x"} 0.97 :smile:' in out


def test_every_finding_confirmed_first_ruled_out_compact() -> None:
    d = big_diagnosis(30, 5)
    out = text.render(d)
    positions = {f.playbook: out.index(f.title) for f in d.findings}
    order = [positions[f.playbook] for f in d.findings]
    assert order == sorted(order), "confirmed, then inconclusive, then ruled out"
    ruled_out = [f for f in d.findings if f.verdict == R]
    assert ruled_out and "Ruled out (10):" in out
    tail = out[out.index("Ruled out (10):") :]
    for f in ruled_out:
        # One entry each: the title and the deciding line, not the evidence.
        assert flat(
            f"✅ {f.title} — every GPU node advertises nvidia.com/gpu (row {f.row})"
        ) in flat(tail)
        assert f.steps[0].lines[0][:40] not in out
    for f in d.findings:
        if f.verdict != R:
            for o in f.steps:
                for line in o.lines:
                    assert flat(line) in flat(out)


def test_inconclusive_shows_steps_and_unreadable_sources() -> None:
    d = small_diagnosis(
        finding(3, Q),
        errors=("azure/usages unavailable: azure/usages.json is not in the snapshot",),
    )
    out = text.render(d)
    assert "❔ Synthetic symptom row 3  row 3 · synthetic-row-03 · inconclusive" in out
    assert "Inconclusive: loganalytics/gpu-error-patterns unavailable: 403 for row 3" in out
    assert "Could not read (findings that needed these are inconclusive):" in out
    assert "  • azure/usages unavailable: azure/usages.json is not in the snapshot" in out


def test_real_ruled_out_and_partial_scenarios() -> None:
    out = text.render(engine_diagnosis("partial"))
    assert "✅ GPU family quota exhausted — every workspace is ResourceReady" in out
    assert "azure/usages unavailable" in out
    ruled_out = engine_diagnosis("quota-exhausted/ruled-out")
    out = text.render(ruled_out)
    assert "✅ GPU family quota exhausted — " in out
    assert f"✅ {ruled_out.counts()['ruled_out']} ruled out" in out


def test_evidence_one_line_each_prose_wrapped() -> None:
    d = big_diagnosis(6, 3)
    out = text.render(d)
    lines = out.splitlines()
    for f in d.findings:
        if f.verdict == R:
            assert (
                f"✅ {f.title} — {f.summary.removeprefix('Ruled out: ')}  ({f.playbook})" in lines
            )
            continue
        # Exact messages stay greppable and copyable: one physical line each.
        for o in f.steps:
            for line in o.lines:
                assert f"         {line}" in lines
    prose = lines[lines.index("   What it means, what to do:") + 1 :]
    prose = prose[
        : prose.index("   More: https://learn.microsoft.com/azure/quotas/per-vm-quota-requests")
    ]
    assert prose and all(len(x) <= text.WIDTH for x in prose)
    assert "" in prose and "     - check the workspace conditions again" in prose


def test_no_lines_and_no_location() -> None:
    f: Finding = finding(2, C)
    f = f.model_copy(update={"steps": (f.steps[0].model_copy(update={"lines": ()}),), "row": None})
    d = small_diagnosis(f).model_copy(update={"location": None})
    out = text.render(d)
    assert out.splitlines()[0] == "GPU diagnosis · aks-inference · 2026-11-27T07:40:00Z"
    assert "(no lines)" in out
    assert "  synthetic-row-02 · confirmed" in out


def test_empty_diagnosis() -> None:
    out = text.render(small_diagnosis())
    assert "0 checks" in out and "Ruled out" not in out


# --- filters shared with Slack -------------------------------------------------------------


def test_cut_names_what_is_missing() -> None:
    line = "x" * 5000
    out = cut(line, 2000)
    assert len(out) == 2000
    kept, missing = re.fullmatch(
        r"(x*) … ([\d,]+) more characters in the JSON output", out
    ).groups()
    assert len(kept) + int(missing.replace(",", "")) == 5000
    assert cut("short", 10) == "short"


def test_cut_counts_escaped_width() -> None:
    line = "&<>" * 1000
    out = cut(line, 500, "in the thread", escape=mrkdwn)
    assert len(out) <= 500
    kept, missing = re.fullmatch(r"(.*) … ([\d,]+) more characters in the thread", out).groups()
    assert len(unmrkdwn(kept)) + int(missing.replace(",", "")) == 3000
    assert unmrkdwn(mrkdwn("a & b < c > d &amp;")) == "a & b < c > d &amp;"


def test_reflow_keeps_lists_and_paragraphs() -> None:
    prose = "GPU capacity is gated\nby quota.\n\nDo this:\n- request\n  the increase\n1. re-check\n"
    assert reflow(prose) == [
        "GPU capacity is gated by quota.",
        "",
        "Do this:",
        "- request the increase",
        "1. re-check",
    ]
    assert wrap("a " * 60, width=20, indent=2).splitlines()[0] == "  a a a a a a a a a"
