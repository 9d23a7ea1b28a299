"""The Slack app manifest declares what the bot uses, and no more."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT


def test_manifest_matches_what_the_bot_listens_to() -> None:
    m = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text())
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/gpu"]
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
    }
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "channels:history", "groups:history"} <= scopes
    assert not scopes & {"admin", "channels:manage", "users:read.email", "files:write"}
    allowed = {"_metadata", "display_information", "features", "oauth_config", "settings"}
    assert set(m) <= allowed
