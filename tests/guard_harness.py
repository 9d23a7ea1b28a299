"""Set-up shared by the fix guard tests: one scenario served live by both loopback emulators,
read and written by the real clients, with the guard over a real store.

    cluster = LiveCluster.start(scenario, tmp_path, ca, monkeypatch)
    guard = cluster.guard(store)                 # FixGuard with the real actuators
    cluster.kube_writes() / cluster.arm_writes() # what reached the emulators

The scenario is copied first, so a test may change files the emulators read on every request
(probe results, pod metrics) as the cluster would after a fix.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from bot.engine.guard import FixGuard
from bot.engine.service import Diagnoser
from bot.engine.tokens import TokenSigner
from bot.model.fixpolicy import Actor, FixPolicy, VerifyWindow
from bot.settings import ClusterConfig
from bot.sources.actuators import load_all
from bot.sources.actuators.context import fix_context
from bot.sources.live import open_live
from bot.store.db import Store
from tests.emulators.azure_api import AzureEmulator
from tests.emulators.kube_api import SSAR_PATH, KubeApiEmulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
SIGNING_KEY = b"guard-tests-signing-key-not-a-secret"
CANARY = "azure-token-canary-guard-7c1d"  # the ARM bearer token: never in a message or a row
TEAM = "T0GPUBOT"

# Who is who. Alice and Bob may apply anything; Lena only low risk; Mallory nothing; Eve has
# Alice's rights on paper but clicks from another Slack workspace.
ALICE = Actor("U0ALICE", team=TEAM)
BOB = Actor("U0BOB", team=TEAM)
LENA = Actor("U0LENA", team=TEAM)
MALLORY = Actor("U0MALLORY", team=TEAM)
EVE = Actor("U0ALICE", team="T0OTHER")
OPERATOR = Actor("local:ops-one", via="cli")
SECOND_OPERATOR = Actor("local:ops-two", via="cli")

NO_WAIT = VerifyWindow(delay_seconds=0, every_seconds=0, window_seconds=0)


def policy(**overrides: Any) -> FixPolicy:
    values: dict[str, Any] = {
        "allow": {
            "low": ["U0LENA"],
            "high": ["U0ALICE", "U0BOB", "local:ops-one", "local:ops-two"],
        },
        "team_id": TEAM,
        "verify": NO_WAIT,
    }
    values.update(overrides)
    return FixPolicy.model_validate(values)


@dataclass
class LiveCluster:
    snapshot: Path
    kube: KubeApiEmulator
    arm: AzureEmulator
    config: Path
    diagnoser: Diagnoser
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        scenario: Path | str,
        tmp: Path,
        ca: trustme.CA,
        monkeypatch: pytest.MonkeyPatch,
        catalog: Any,
        *,
        edit: Any = None,
    ) -> LiveCluster:
        """Serve a copy of `scenario` (`edit(path)` may change the copy first)."""
        source = SCENARIOS / scenario if isinstance(scenario, str) else scenario
        snapshot = tmp / "cluster"
        shutil.copytree(source, snapshot)
        if edit is not None:
            edit(snapshot)
        kube = KubeApiEmulator(snapshot, missing_crd_status=403).start()
        arm = AzureEmulator(snapshot, token=CANARY, ca=ca).start()
        # Headers and body leave in separate writes: without TCP_NODELAY every ARM answer
        # waits out the client's delayed ACK (~40 ms), which adds up over a live re-check.
        arm._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[union-attr]
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp / "kubeconfig")))
        for name, value in arm.env().items():
            monkeypatch.setenv(name, value)
        info = yaml.safe_load((snapshot / "snapshot.yaml").read_text())["cluster"]
        config = tmp / "gpubot.yaml"
        config.write_text(yaml.safe_dump({"clusters": [{**info, "kube_context": "emulator"}]}))
        live = open_live(ClusterConfig(**info, kube_context="emulator"))
        diagnoser = Diagnoser(
            catalog=catalog, sources=lambda _name: live, cluster_names=[info["name"]]
        )
        return cls(snapshot, kube, arm, config, diagnoser, info)

    @property
    def name(self) -> str:
        return str(self.info["name"])

    def stop(self) -> None:
        self.kube.stop()
        self.arm.stop()

    def guard(self, store: Store, fix_policy: FixPolicy | None = None, **kw: Any) -> FixGuard:
        """A guard as one app instance builds it: its own signer over the shared key."""
        diagnoser = self.diagnoser
        return FixGuard(
            store=store,
            policy=fix_policy or policy(),
            contexts=lambda _cluster: fix_context(diagnoser.sources(_cluster)),
            signer=TokenSigner(SIGNING_KEY),
            diagnoser=diagnoser,
            **{"actuators": load_all(), **kw},
        )

    def kube_writes(self) -> list[Any]:
        """Writes that reached the API server (access reviews are questions, not writes)."""
        return [r for r in list(self.kube.writes) if r.path.rstrip("/") != SSAR_PATH]

    def arm_writes(self) -> list[Any]:
        return [r for r in list(self.arm.requests) if r.method in ("PUT", "PATCH", "DELETE")]

    def writes(self) -> list[Any]:
        return self.kube_writes() + self.arm_writes()


def offered(diagnoser: Diagnoser, playbook: str, fix: str) -> dict[str, Any]:
    """The parameters the live diagnosis offers `fix` with: what a Slack button would carry."""
    (finding,) = diagnoser.run(None, playbooks=[playbook]).findings
    assert finding.verdict == "confirmed", finding.summary
    return next(dict(x.params) for x in finding.fixes if x.id == fix)


def audit_actions(store: Store, request_id: str | None = None) -> list[tuple[str, str]]:
    return [(r.action, r.actor) for r in store.ledger.audit_trail(request_id=request_id)]


def refusals(store: Store) -> list[str]:
    return [str(r.reason) for r in store.ledger.audit_trail(action="refused")]
