"""Fix messages in Block Kit: the plan reads before → after, buttons carry the guard's values
untouched, risk picks the style, limits hold for huge plans, and text from the cluster cannot
inject mentions or links."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block

from bot.model.plans import Change, FixPlan
from bot.render import fixes
from tests.unit.test_render_slack import assert_within_limits, texts

AT = datetime(2026, 11, 27, 7, 52, tzinfo=UTC)


def plan(fix: str = "prewarm-now", changes: int = 1, **kw) -> FixPlan:
    return FixPlan(
        fix=fix,
        cluster="aks-inference",
        target="statefulset default/workspace-llama-3-1-8b",
        target_key=f"{fix}/default/sts/workspace-llama-3-1-8b",
        params={"namespace": "default", "workload": "statefulset/workspace-llama-3-1-8b"},
        changes=tuple(
            Change(
                subject="statefulset default/workspace-llama-3-1-8b",
                field=f"f{i}",
                before=1,
                after=2,
            )
            for i in range(changes)
        ),
        restore={"replicas": 1},
        **kw,
    )


def buttons(message: dict) -> dict[str, dict]:
    return {
        e["action_id"]: e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_plan_shows_before_after_risk_and_signed_buttons_verbatim() -> None:
    message = fixes.plan_message(
        plan(), approvers=[], buttons={"confirm": "gpf1.c.mac", "cancel": "gpf1.x.mac"}
    )
    assert_within_limits([message])
    shown = "\n".join(texts(message["blocks"]))
    assert "`f0`  `1` → `2`" in shown
    assert "Risk: *low* · no approval needed" in shown
    assert "Reversible" in shown
    found = buttons(message)
    assert found["guard:confirm"]["value"] == "gpf1.c.mac"
    assert found["guard:cancel"]["value"] == "gpf1.x.mac"
    assert found["guard:confirm"]["style"] == "primary"
    assert "confirm" in found["guard:confirm"]  # the dialog: UX only, the guard re-checks


def test_high_risk_is_danger_and_names_the_approvers() -> None:
    message = fixes.plan_message(
        plan("pool-min-count"), approvers=["UCAROL", "S0GPUOPS"], buttons={"confirm": "v"}
    )
    shown = "\n".join(texts(message["blocks"]))
    assert "needs approval from <@UCAROL>, <!subteam^S0GPUOPS>" in shown
    confirm = buttons(message)["guard:confirm"]
    assert confirm["style"] == "danger" and confirm["confirm"]["style"] == "danger"
    assert confirm["text"]["text"] == "Request approval"


def test_a_plan_that_cannot_apply_here_says_why_and_has_no_confirm() -> None:
    message = fixes.plan_message(
        plan(), approvers=[], buttons={}, blocked="It cannot be applied here: snapshot mode."
    )
    assert buttons(message) == {}
    assert "⛔ It cannot be applied here: snapshot mode." in json.dumps(message, ensure_ascii=False)


def test_huge_plans_and_values_stay_within_block_kit_limits() -> None:
    many = FixPlan(
        **{
            **plan().model_dump(),
            "changes": tuple(
                Change(
                    subject=f"configmap ns/cm-{i}", field="data.x", before="a" * 5000, after=None
                )
                for i in range(120)
            ),
        }
    )
    message = fixes.plan_message(many, approvers=[], buttons={"confirm": "v", "cancel": "w"})
    assert_within_limits([message])
    shown = "\n".join(texts(message["blocks"]))
    assert "more characters in `gpubot audit`" in shown  # a cut says so
    assert "More changes than fit here" in shown
    assert "guard:confirm" in buttons(message)  # the buttons survive the cut


def test_cluster_text_cannot_mention_or_link_but_our_mentions_work() -> None:
    hostile = FixPlan(
        **{
            **plan().model_dump(),
            "target": "<!channel> <https://evil|click>",
            "notes": ("<!here> & co",),
        }
    )
    line = fixes.applied_line(
        hostile, requester="UBOB", approver="UCAROL", at=AT, summary="<@U0EVIL> scaled"
    )
    message = fixes.decided_plan(hostile, approvers=[], line=line, undo="gpf1.u.mac")
    raw = json.dumps(message, ensure_ascii=False)
    assert "<!channel>" not in raw and "<!here>" not in raw and "<https://evil" not in raw
    assert "Applied by <@UBOB>, approved by <@UCAROL> at 07:52 UTC" in raw
    assert buttons(message)["guard:undo"]["value"] == "gpf1.u.mac"
    for b in message["blocks"]:
        assert Block.parse(b).to_dict() == b
    # a reason from the guard keeps the mention it names, and nothing else
    text = fixes.refusal_text("<@U777> is not allowed <!channel>")
    assert text.startswith("⛔ <@U777> is not allowed") and "<!channel>" not in text


def test_verification_lists_its_evidence_and_cuts_long_lists() -> None:
    message = fixes.verification_message(
        "still_failing", "Still failing: node cold", [f"line {i}" for i in range(40)]
    )
    assert_within_limits([message])
    shown = "\n".join(texts(message["blocks"]))
    assert shown.startswith("❌ Still failing: node cold")
    assert "• line 0" in shown and "28 more lines" in shown
    assert fixes.verifying_message(120)["text"].startswith("🔎 Verifying in 2 min")
    assert fixes.verifying_message(0)["text"].startswith("🔎 Verifying now")
