"""`gpubot fix ...` and `gpubot audit` end to end: in-process `main(argv)` against the loopback
emulators (--config) or a snapshot (--snapshot/--demo), the store in a temporary file."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from tests.guard_harness import SCENARIOS, LiveCluster

QUOTA = SCENARIOS / "quota-exhausted" / "confirmed"
FIXES = {
    "allow": {"low": ["local:ops-one"], "high": ["local:ops-one", "local:ops-two"]},
    "operator": "ops-one",
    "verify": {"delay_seconds": 0, "every_seconds": 0, "window_seconds": 0},
}


@pytest.fixture(autouse=True)
def store_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'gpubot.db'}")
    monkeypatch.delenv("GPUBOT_OPERATOR", raising=False)
    monkeypatch.delenv("GPUBOT_CONFIG", raising=False)


@pytest.fixture
def cluster(tmp_path, ca, monkeypatch, catalog):
    cluster = LiveCluster.start("cold-start/confirmed", tmp_path, ca, monkeypatch, catalog)
    doc = yaml.safe_load(cluster.config.read_text())
    cluster.config.write_text(yaml.safe_dump({**doc, "fixes": FIXES}))
    yield cluster
    cluster.stop()


def audit(run_cli, *args: str) -> list[dict]:
    code, out, err = run_cli("audit", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_plan_from_a_snapshot_shows_the_change_and_writes_nothing(run_cli) -> None:
    target = ["family=standardNCADSA100v4Family", "new_limit=48"]
    code, out, err = run_cli(
        "fix", "plan", "request-quota", "--snapshot", str(QUOTA), "--json", "--target", *target
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "planned" and doc["cluster"] == "aks-inference"
    (change,) = doc["plan"]["changes"]
    assert (change["field"], change["before"], change["after"]) == ("limit", 0, 48)
    assert "cannot be applied here" in doc["message"]

    code, out, err = run_cli(
        "fix", "plan", "request-quota", "--snapshot", str(QUOTA), "--target", *target
    )
    assert code == 0, err
    assert "change  quota standardNCADSA100v4Family in eastus2  limit: 0 -> 48" in out
    assert [r["action"] for r in audit(run_cli)] == ["planned", "planned"]


def test_apply_from_a_snapshot_is_refused_with_the_reason_and_audited(run_cli, monkeypatch) -> None:
    monkeypatch.setenv("GPUBOT_OPERATOR", "ops-one")
    code, out, err = run_cli(
        "fix", "apply", "request-quota", "--snapshot", str(QUOTA), "--yes",
        "--target", "family=standardNCADSA100v4Family", "new_limit=48",
    )  # fmt: skip
    assert code == 1 and out == ""
    assert (
        err.strip().splitlines()[-1].startswith("gpubot: refused: this bot answers from a snapshot")
    )
    (refused,) = audit(run_cli, "--action", "refused")
    assert refused["actor"] == "local:ops-one" and "snapshot" in refused["reason"]
    assert refused["fix"] == "request-quota" and refused["request_id"]


def test_high_risk_apply_waits_for_a_second_operator_then_verify_and_undo(
    run_cli, cluster, monkeypatch
) -> None:
    config = ["--config", str(cluster.config)]
    target = ["--target", "pool=gpua100", "min_count=1"]
    code, out, err = run_cli(
        "fix", "apply", "pool-min-count", "--yes", "--playbook", "cold-start", *target, *config
    )
    assert code == 0, err
    assert "Plan " in err and "minCount: 0 -> 1" in err  # the plan was shown before applying
    request_id = out.split("(request ")[1].split(")")[0]
    assert f"a second operator must run `gpubot fix approve {request_id}`" in err
    assert cluster.writes() == []

    code, _, err = run_cli("fix", "approve", request_id, *config)  # still ops-one
    assert code == 1 and "cannot approve their own request" in err
    assert cluster.writes() == []

    monkeypatch.setenv("GPUBOT_OPERATOR", "ops-two")
    code, out, err = run_cli("fix", "approve", request_id, *config)
    assert code == 0, err
    assert "approved by local:ops-two" in out and f"gpubot fix verify {request_id}" in err
    (put,) = cluster.arm_writes()
    assert put.body["properties"]["minCount"] == 1

    code, out, err = run_cli("fix", "verify", request_id, "--json", *config)
    assert code == 0, err
    assert json.loads(out)["status"] == "verified"

    code, out, err = run_cli("fix", "undo", request_id, "--yes", *config)
    assert code == 0, err
    undo_id = out.split("(request ")[1].split(")")[0]
    monkeypatch.setenv("GPUBOT_OPERATOR", "ops-one")
    code, out, err = run_cli("fix", "approve", undo_id, *config)
    assert code == 0, err
    assert cluster.arm_writes()[-1].body["properties"]["minCount"] == 0

    trail = audit(run_cli, "--request", request_id)
    assert [(r["action"], r["actor"]) for r in trail] == [
        ("planned", "local:ops-one"),
        ("requested", "local:ops-one"),
        ("refused", "local:ops-one"),
        ("approved", "local:ops-two"),
        ("applying", "local:ops-two"),
        ("applied", "local:ops-two"),
        ("verified", "gpubot"),
    ]
    assert all(r["cluster"] == "aks-inference" and r["target"] for r in trail)
    code, out, _ = run_cli("audit", "--since", "1h", "--cluster", "aks-inference")
    assert code == 0 and out.splitlines()[0].split()[:4] == ["WHEN", "WHO", "WHERE", "ACTION"]
    assert "aks-inference/terminal" in out and "cannot approve their own request" in out


def test_apply_asks_and_a_no_writes_nothing(run_cli, cluster, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, err = run_cli(
        "fix", "apply", "pool-min-count", "--config", str(cluster.config),
        "--target", "pool=gpua100", "min_count=1",
    )  # fmt: skip
    assert code == 1 and out == ""
    assert "Apply this plan? [y/N]" in err and "not applied" in err
    assert cluster.writes() == []
    assert [r["action"] for r in audit(run_cli)] == ["planned"]


BAD_INPUT = [
    (["fix", "plan", "reboot-cluster", "--demo"], "unknown fix 'reboot-cluster'"),
    (["fix", "plan", "pool-min-count", "--demo", "--target", "pool=x"], "min_count"),
    (
        ["fix", "plan", "pool-min-count", "--demo", "--target", "pool=x", "min_count=lots"],
        "--target min_count: Input should be a valid integer",
    ),
    (
        ["fix", "apply", "pool-min-count", "--demo", "--target", "pool=a", "pool=b"],
        "--target pool given more than once",
    ),
    (["fix", "approve", "not-an-id", "--demo"], "is not a request id"),
    (["fix", "verify", "0123456789abcdef", "--demo"], "no fix request 0123456789abcdef"),
    (["fix", "undo", "0123456789abcdef"], "pass --snapshot DIR, --demo, or --config FILE"),
]


def test_bad_input_is_one_line_and_exit_2(run_cli) -> None:
    for argv, message in BAD_INPUT:
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "", argv
        assert len(err.strip().splitlines()) == 1 and message in err, (argv, err)
    assert audit(run_cli) == [], "bad input is not a fix attempt"


def test_audit_since_takes_durations_and_times(run_cli) -> None:
    assert run_cli("audit", "--since", "7d")[0] == 0
    assert run_cli("audit", "--since", "2026-12-01T00:00:00Z")[0] == 0
    with pytest.raises(SystemExit) as exc:
        run_cli("audit", "--since", "last tuesday")
    assert exc.value.code == 2
