"""Shared set-up for the Azure fix tests: the real SDK clients against the loopback emulator.

`AzureFixHarness.live(snapshot)` starts an AzureEmulator on the snapshot, points the DESIGN.md
overrides at it and returns a writable FixContext whose `AzureSource` was configured from the
environment only. `snapshot_context(snapshot)` is the read-only context a `--snapshot` bot uses.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import trustme

from bot.sources.actuators.azure_state import LiveAzureState, SnapshotAzureState
from bot.sources.actuators.context import FixContext
from bot.sources.arm import AzureSource
from bot.sources.azure_common import ClientOptions
from bot.sources.snapshot import SnapshotSource
from tests.emulators.azure_api import AzureEmulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
CANARY = "canary-fix-token-5d1e"  # the bearer token: must never appear in a message
# Quick transport settings; polling_interval 0 so a long-running write never sleeps.
FAST = ClientOptions(
    connect_timeout=2, read_timeout=5, backoff=0.01, backoff_max=0.05, polling_interval=0
)


class AzureFixHarness:
    def __init__(self, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ca, self.monkeypatch = ca, monkeypatch
        self.started: list[AzureEmulator] = []

    def live(self, snapshot: Path) -> tuple[AzureEmulator, FixContext]:
        emu = AzureEmulator(snapshot, token=CANARY, ca=self.ca).start()
        self.started.append(emu)
        for name, value in emu.env().items():
            self.monkeypatch.setenv(name, value)
        source = AzureSource.from_env(SnapshotSource(snapshot).cluster, options=FAST)
        ctx = FixContext(
            cluster=source.cluster,
            kube_state=None,
            azure_state=LiveAzureState(source),
            now=source.now(),
            azure=source,
        )
        return emu, ctx

    def stop(self) -> None:
        for emu in self.started:
            emu.stop()


def snapshot_context(snapshot: Path) -> FixContext:
    source = SnapshotSource(snapshot)
    return FixContext(
        cluster=source.cluster,
        kube_state=None,
        azure_state=SnapshotAzureState(source),
        now=source.now(),
        read_only_reason="this bot answers from a snapshot: fixes show their plan but are "
        "never applied",
    )


def offered(diagnose_json: Any, snapshot: Path, playbook: str, fix: str) -> dict[str, Any]:
    """The parameters the playbook's diagnosis of `snapshot` offers `fix` with."""
    report = diagnose_json(snapshot)
    finding = next(f for f in report["findings"] if f["playbook"] == playbook)
    assert finding["verdict"] == "confirmed", finding["summary"]
    return next(x["params"] for x in finding["fixes"] if x["id"] == fix)


def snapshot_json(snapshot: Path, rel: str) -> Any:
    return json.loads((snapshot / rel).read_text(encoding="utf-8"))


def flat(body: Any, prefix: str = "") -> dict[str, Any]:
    """{"properties.autoScalerProfile.scan-interval": "10s", ...}: lists stay whole values."""
    if not isinstance(body, dict):
        return {prefix: body}
    out: dict[str, Any] = {}
    for key, value in body.items():
        out.update(flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def assert_put_body(
    sent: dict[str, Any], before: dict[str, Any], changed: dict[str, Any], read_only: set[str]
) -> None:
    """`sent` is `before` with exactly `changed` applied (dotted paths; None = removed) and
    only read-only fields left out: nothing else was added, dropped or altered."""
    want = copy.deepcopy(flat(before))
    for path, value in changed.items():
        if value is None:
            want.pop(path, None)
        else:
            want[path] = value
    got = flat(sent)
    dropped = set(want) - set(got)
    assert dropped <= read_only, f"writable fields dropped from the PUT: {dropped - read_only}"
    assert got == {k: v for k, v in want.items() if k not in dropped}
