"""bot.model.quota: the headroom arithmetic the quota checks and the request-quota fix share."""

from __future__ import annotations

import pytest

from bot.model.quota import LOW_PRIORITY, QuotaUsage, quota_name


@pytest.mark.parametrize(
    ("limit", "used", "vcpus", "fits", "nodes"),
    [
        (100, 24, 24, True, 3),  # 76 free: three more 24-vCPU nodes
        (48, 24, 24, True, 1),  # exactly one more fits
        (48, 25, 24, False, 0),  # one vCPU short
        (0, 0, 24, False, 0),  # a quota of 0 never has room
        (24, 40, 24, False, 0),  # usage above the limit: no room, never negative nodes
    ],
)
def test_room_for_the_next_node(limit, used, vcpus, fits, nodes) -> None:
    usage = QuotaUsage("standardNCADSA100v4Family", limit, used)
    assert usage.fits(vcpus) is fits
    assert usage.nodes_that_fit(vcpus) == nodes


def test_the_requested_limit_leaves_room_and_never_lowers_the_quota() -> None:
    usage = QuotaUsage("standardNCADSA100v4Family", 48, 40)
    new_limit = usage.limit_for(24, 2)
    assert new_limit == 88
    assert QuotaUsage(usage.name, new_limit, usage.used).nodes_that_fit(24) == 2
    assert QuotaUsage("cores", 500, 40).limit_for(24, 2) == 500


def test_an_arm_usage_entry_keeps_azure_spelling_and_reads_missing_numbers_as_zero() -> None:
    entry = {"name": {"value": "standardNCadsH100v5Family"}, "limit": 80, "currentValue": 40}
    assert QuotaUsage.from_arm(entry, "x") == QuotaUsage("standardNCadsH100v5Family", 80, 40)
    bare = QuotaUsage.from_arm({"limit": None}, "lowPriorityCores")
    assert bare == QuotaUsage("lowPriorityCores", 0, 0)
    assert not bare.fits(4)


def test_spot_nodes_draw_on_low_priority_cores_not_their_family() -> None:
    assert quota_name("standardNCADSA100v4Family", spot=True) == LOW_PRIORITY
    assert quota_name("standardNCADSA100v4Family", spot=False) == "standardNCADSA100v4Family"
