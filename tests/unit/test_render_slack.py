"""Slack renderer: Block Kit limits per message, the block_id/title contract, splitting long
evidence across sections and messages without losing a line, fix buttons."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.model.verdicts import Diagnosis, Verdict
from bot.render import slack, slack_blocks
from bot.render.filters import mrkdwn_safe, unmrkdwn
from tests.unit._render_samples import (
    C,
    Q,
    R,
    big_diagnosis,
    engine_diagnosis,
    finding,
    small_diagnosis,
)


def texts(obj: Any) -> list[str]:
    """Every display text in a block (what Slack shows and counts)."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out.extend([v] if k == "text" and isinstance(v, str) else texts(v))
        return out
    if isinstance(obj, list):
        return [t for v in obj for t in texts(v)]
    return []


def assert_within_limits(messages: list[dict[str, Any]]) -> None:
    assert messages
    for m in messages:
        assert set(m) == {"text", "blocks"}
        assert m["text"].strip(), "fallback text is required for notifications"
        blocks = m["blocks"]
        assert 0 < len(blocks) <= 50
        ids = [b["block_id"] for b in blocks if "block_id" in b]
        assert len(ids) == len(set(ids)), "block_ids must be unique within a message"
        assert all(len(i) <= 255 for i in ids)
        assert sum(len(t) for t in texts(blocks)) <= 12_000
        for b in blocks:
            # The SDK re-validates every object on the way back in and out.
            assert Block.parse(b).to_dict() == b
            if b["type"] == "section":
                assert len(b["text"]["text"]) <= 3000
            if b["type"] == "header":
                assert len(b["text"]["text"]) <= 150
            if b["type"] == "context":
                assert len(b["elements"]) <= 10
            if b["type"] == "actions":
                assert len(b["elements"]) <= 25
                for e in b["elements"]:
                    assert len(e["text"]["text"]) <= 75
                    assert len(e["value"]) <= 2000
                    assert len(e["action_id"]) <= 255


def finding_blocks(messages: list[dict[str, Any]], playbook: str) -> list[dict[str, Any]]:
    key = f"finding:{playbook}"
    return [
        b
        for m in messages
        for b in m["blocks"]
        if b.get("block_id") == key or b.get("block_id", "").startswith(key + ":")
    ]


def assert_contract(d: Diagnosis, messages: list[dict[str, Any]]) -> None:
    """DESIGN.md: every finding's blocks carry its playbook id and its JSON title verbatim."""
    for f in d.findings:
        blocks = finding_blocks(messages, f.playbook)
        assert blocks, f"no block_id names {f.playbook}"
        assert any(f.title in t for b in blocks for t in texts(b)), f.title


@pytest.fixture(scope="module")
def real() -> Diagnosis:
    return engine_diagnosis("quota-exhausted/confirmed")


@pytest.fixture(scope="module")
def big() -> Diagnosis:
    return big_diagnosis(30, 40)


def test_real_diagnosis_summary_reads_in_five_seconds(real: Diagnosis) -> None:
    messages = slack.render_messages(real)
    assert_within_limits(messages)
    assert_contract(real, messages)
    first = messages[0]["blocks"]
    assert first[0]["type"] == "header"
    assert first[0]["text"]["text"] == "GPU diagnosis · aks-inference · eastus2"
    (line,) = [b for b in first if b.get("block_id") == "finding:quota-exhausted"]
    assert line["text"]["text"].startswith("🔴 *GPU family quota exhausted* — Quota wall: ")
    assert "standardNCADSA100v4Family limit 0 vCPUs" in line["text"]["text"]
    assert first[-1]["block_id"] == "summary:counts"
    counts = real.counts()
    assert first[-1]["elements"][0]["text"].startswith(
        f"✅ {counts['ruled_out']} ruled out · ❔ {counts['inconclusive']} inconclusive"
    )
    assert "GPU family quota exhausted" in messages[0]["text"]


def test_real_diagnosis_fix_button(real: Diagnosis) -> None:
    first = slack.render_messages(real)[0]["blocks"]
    (actions,) = [b for b in first if b["type"] == "actions"]
    assert actions["block_id"] == "finding:quota-exhausted:fixes"
    (button,) = actions["elements"]
    assert button["action_id"] == "fix:request-quota:0"
    assert json.loads(button["value"]) == {
        "playbook": "quota-exhausted",
        "fix": "request-quota",
        "i": 0,
    }
    confirm = button["confirm"]
    assert confirm["confirm"]["text"] and confirm["deny"]["text"]
    assert "new_limit=48" in confirm["text"]["text"]
    assert len(confirm["text"]["text"]) <= 300 and len(confirm["title"]["text"]) <= 100


def test_real_diagnosis_thread_has_every_step(real: Diagnosis) -> None:
    thread = slack.render_messages(real)[1:]
    body = "\n".join(t for m in thread for t in texts(m["blocks"]))
    for o in real.findings[0].steps:
        assert f"*{o.step}*" in body
        for source in o.sources:
            assert source in body
        for line in o.lines:
            assert line in unmrkdwn(body)
    assert "request-quota" in body and "family=standardNCADSA100v4Family" in body
    assert "<https://learn.microsoft.com/azure/quotas/per-vm-quota-requests|" in body


@pytest.mark.parametrize("scenario", ["quota-exhausted/ruled-out", "partial", "healthy"])
def test_other_scenarios_render_within_limits(scenario: str) -> None:
    d = engine_diagnosis(scenario)
    messages = slack.render_messages(d)
    assert_within_limits(messages)
    assert_contract(d, messages)
    assert not any(b["type"] == "actions" for m in messages for b in m["blocks"])


def test_big_diagnosis_within_limits_and_contract(big: Diagnosis) -> None:
    messages = slack.render_messages(big)
    assert len(messages) > 4, "30 findings x 4 steps x 40 long lines must split"
    assert_within_limits(messages)
    assert_contract(big, messages)


def test_big_diagnosis_loses_no_evidence_line(big: Diagnosis) -> None:
    """Reassemble every evidence bullet from the thread and compare with the findings."""
    got: list[str] = []
    for m in slack.render_messages(big)[1:]:
        for b in m["blocks"]:
            if ":evidence:" in b.get("block_id", ""):
                got.extend(unmrkdwn(x[2:]) for x in b["text"]["text"].split("\n") if x[:2] == "• ")
    by_group = sorted(big.findings, key=lambda f: f.sort_key())
    expected = [line for f in by_group for o in f.steps for line in o.lines]
    assert len(expected) == 30 * 4 * 40
    assert got == expected


def test_evidence_split_is_marked_continued(big: Diagnosis) -> None:
    messages = slack.render_messages(big)
    sections = [b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section"]
    assert any(re.match(r"🔴 \*step-0\* \(continued\)", s) for s in sections)
    # A message that picks a finding up mid-way says whose evidence it is.
    resumed = [
        b for m in messages[1:] for b in m["blocks"][:3] if b["block_id"].endswith(":continued")
    ]
    assert any(b["block_id"].startswith("finding:synthetic-row-") for b in resumed)
    for m in messages[1:]:
        head = m["blocks"][0]
        assert (
            head["type"] == "header"
            or head["block_id"].endswith(":continued")
            or (head["block_id"] == "summary:fixes")
        )


def test_fix_buttons_for_every_confirmed_fix(big: Diagnosis) -> None:
    messages = slack.render_messages(big)
    buttons = [
        e for m in messages for b in m["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    for f in big.findings:
        mine = [
            json.loads(e["value"])
            for e in buttons
            if json.loads(e["value"])["playbook"] == f.playbook
        ]
        if f.verdict != C:
            assert not mine
            continue
        assert mine == [
            {"playbook": f.playbook, "fix": x.id, "i": n} for n, x in enumerate(f.fixes)
        ]
    # 30 fixes on one finding: two actions blocks, at most 25 buttons each.
    blocks = [b for b in finding_blocks(messages, "synthetic-row-00") if b["type"] == "actions"]
    assert [len(b["elements"]) for b in blocks] == [25, 5]
    high = [e for e in buttons if e["action_id"] == "fix:pool-min-count:1"]
    assert high and all(e["style"] == "danger" and e["confirm"]["style"] == "danger" for e in high)
    assert all("confirm" in e for e in buttons)


def test_unsafe_title_verbatim_in_plain_text(big: Diagnosis) -> None:
    title = "GPU & driver <mismatch> *critical*"
    assert not mrkdwn_safe(title)
    blocks = finding_blocks(slack.render_messages(big), "synthetic-row-01")
    plain = [b for b in blocks if b["type"] == "section" and b["text"]["type"] == "plain_text"]
    assert any(title in b["text"]["text"] for b in plain)
    # In mrkdwn it is escaped, never raw (a raw `<` would start a Slack link).
    for b in blocks:
        if b["type"] == "section" and b["text"]["type"] == "mrkdwn":
            assert "<mismatch>" not in b["text"]["text"]


def test_summary_lines_stay_first_when_buttons_do_not_fit(big: Diagnosis) -> None:
    messages = slack.render_messages(big)
    first = messages[0]["blocks"]
    assert not any(b["type"] == "actions" for b in first)
    lines = [
        b["block_id"] for b in first if re.fullmatch(r"finding:synthetic-row-\d+", b["block_id"])
    ]
    assert lines == [f"finding:{f.playbook}" for f in big.findings if f.verdict in (C, Q)]
    assert "fix buttons in the thread" in first[-1]["elements"][0]["text"]
    assert messages[1]["blocks"][0]["block_id"] == "summary:fixes"


def test_summary_overflow_continues_in_thread() -> None:
    d = small_diagnosis(*(finding(i, C, steps=1, lines=1, fixes=3) for i in range(60)))
    messages = slack.render_messages(d)
    assert_within_limits(messages)
    assert_contract(d, messages)
    counts = messages[0]["blocks"][-1]
    assert counts["block_id"] == "summary:counts"
    match = re.search(r"(\d+) more findings continue in the thread", counts["elements"][0]["text"])
    assert match
    shown = [
        b
        for b in messages[0]["blocks"]
        if re.fullmatch(r"finding:synthetic-row-\d+", b["block_id"])
    ]
    assert len(shown) + int(match.group(1)) == 60
    assert messages[1]["blocks"][0]["block_id"] == "summary:continued"
    # Every confirmed finding kept its buttons, even those moved out of the first message.
    buttons = {b["block_id"] for m in messages for b in m["blocks"] if b["type"] == "actions"}
    assert buttons == {f"finding:synthetic-row-{i:02d}:fixes" for i in range(60)}


def test_overlong_line_cut_says_how_much_is_missing() -> None:
    d = small_diagnosis(finding(1, C, steps=1, lines=2, width=7000))
    messages = slack.render_messages(d)
    assert_within_limits(messages)
    bullets = [
        x
        for m in messages[1:]
        for b in m["blocks"]
        if ":evidence:" in b.get("block_id", "")
        for x in b["text"]["text"].split("\n")
        if x.startswith("• ")
    ]
    assert len(bullets) == 2
    for x in bullets:
        match = re.search(r" … ([\d,]+) more characters in the JSON output$", x)
        assert match, x[-80:]
        kept = unmrkdwn(x[2 : match.start()])
        assert len(kept) + int(match.group(1).replace(",", "")) == 7000
        assert len(x) <= slack_blocks.LINE_CHARS + 2


def test_inconclusive_in_summary_names_what_is_missing() -> None:
    d = small_diagnosis(finding(3, Q), finding(4, R), errors=("azure/usages unavailable: 403",))
    messages = slack.render_messages(d)
    first = messages[0]["blocks"]
    (line,) = [b for b in first if b.get("block_id") == "finding:synthetic-row-03"]
    assert line["type"] == "context"
    assert line["elements"][0]["text"] == (
        "❔ *Synthetic symptom row 3* — loganalytics/gpu-error-patterns unavailable: 403 for row 3"
    )
    counts = first[-1]["elements"][0]["text"]
    assert counts.startswith("✅ 1 ruled out · ❔ 1 inconclusive · ⚠️ 1 source could not be read")
    assert "No symptom row is confirmed" in texts(first).__str__()
    errors = [
        b for m in messages for b in m["blocks"] if b.get("block_id", "").startswith("errors")
    ]
    assert any("azure/usages unavailable: 403" in t for b in errors for t in texts(b))


def test_mrkdwn_escaped_in_evidence() -> None:
    d = small_diagnosis(finding(5, R, steps=1, lines=1))
    body = "\n".join(t for m in slack.render_messages(d) for t in texts(m["blocks"]))
    assert "&amp; &lt;none&gt; &gt; preemption" in body
    assert "<none>" not in body


def test_render_json_matches_messages(big: Diagnosis) -> None:
    doc = json.loads(slack.render_json(big))
    assert doc == {"messages": slack.render_messages(big)}


def test_empty_diagnosis() -> None:
    messages = slack.render_messages(small_diagnosis())
    assert_within_limits(messages)
    assert len(messages) == 1
    assert "0 checks" in " ".join(texts(messages[0]["blocks"]))


def test_verdict_groups_in_order(big: Diagnosis) -> None:
    headers = [
        b["block_id"]
        for m in slack.render_messages(big)[1:]
        for b in m["blocks"]
        if b["type"] == "header"
    ]
    assert headers == [
        f"group:{v}" for v in (Verdict.CONFIRMED, Verdict.INCONCLUSIVE, Verdict.RULED_OUT)
    ] + ["errors"]
