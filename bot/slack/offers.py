"""Fix buttons that cannot be forged: swap each rendered fix button's value for a guard offer.

The renderer stays pure (`gpubot diagnose --format slack` keeps its JSON value naming playbook,
fix and index); only the Slack layer, which can reach the store, turns that into the guard's
signed, expiring reference to the exact parameters the finding offered. A click then carries
nothing the clicker could edit into a different fix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from bot.model.context import Scope
from bot.model.verdicts import Diagnosis, FixOffer

log = logging.getLogger("gpubot.slack.offers")
Offer = Callable[..., str]  # FixGuard.offer(cluster=, fix=, params=, playbook=, scope=)


def scope_text(scope: Scope | None) -> str | None:
    """`ns/workspace`, `ns`, or None: the form the guard re-checks a playbook with."""
    if scope is None or not scope.namespace:
        return None
    return f"{scope.namespace}/{scope.workspace}" if scope.workspace else scope.namespace


def _offer_of(diagnosis: Diagnosis, value: str) -> tuple[str, FixOffer] | None:
    try:
        ref = json.loads(value)
        playbook, fix, index = str(ref["playbook"]), str(ref["fix"]), int(ref["i"])
    except (ValueError, TypeError, KeyError):
        return None
    finding = next((f for f in diagnosis.findings if f.playbook == playbook), None)
    if finding is None or not 0 <= index < len(finding.fixes):
        return None
    offer = finding.fixes[index]
    return (playbook, offer) if offer.id == fix else None


def _signed(
    element: dict[str, Any], diagnosis: Diagnosis, offer: Offer, scope: str | None
) -> dict[str, Any] | None:
    found = _offer_of(diagnosis, str(element.get("value", "")))
    if found is None:
        log.warning("fix button %s matches no offer; dropped", element.get("action_id"))
        return None
    playbook, fix = found
    try:
        value = offer(
            cluster=diagnosis.cluster,
            fix=fix.id,
            params=dict(fix.params),
            playbook=playbook,
            scope=scope,
        )
    except Exception:  # the store is down: no button beats a button that cannot work
        log.exception("could not record the offer for %s; button dropped", fix.id)
        return None
    return {**element, "value": value}


def sign_fix_buttons(
    messages: list[dict[str, Any]],
    diagnosis: Diagnosis,
    offer: Offer,
    *,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """The messages with every `fix:<id>:<n>` button carrying a guard offer instead of JSON."""
    where = scope_text(scope)
    out = []
    for message in messages:
        blocks = []
        for block in message["blocks"]:
            if block.get("type") == "actions" and any(
                str(e.get("action_id", "")).startswith("fix:") for e in block["elements"]
            ):
                elements = [
                    _signed(e, diagnosis, offer, where)
                    if str(e.get("action_id", "")).startswith("fix:")
                    else e
                    for e in block["elements"]
                ]
                kept = [e for e in elements if e is not None]
                if not kept:
                    continue
                block = {**block, "elements": kept}
            blocks.append(block)
        out.append({**message, "blocks": blocks})
    return out
