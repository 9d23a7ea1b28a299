"""`gpubot playbooks test` over tests/playbooks, as pytest sees it, plus the coverage gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing.runner import load_file, run_case, run_paths
from tests.conftest import ROOT

CASES = ROOT / "tests" / "playbooks"


def _cases() -> list[tuple[Path, int, str]]:
    out = []
    for path in sorted(CASES.glob("*.test.yaml")):
        for i, case in enumerate(load_file(path).tests):
            out.append((path, i, case.name))
    return out


@pytest.mark.parametrize(
    ("path", "index", "name"), _cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_playbook_case(path: Path, index: int, name: str, catalog) -> None:
    spec = load_file(path)
    result = run_case(spec.tests[index], catalog.playbooks[spec.playbook], path.parent, str(path))
    assert not result.failures, "\n".join(result.failures)


def test_every_confirm_step_is_seen_confirmed_and_not(catalog) -> None:
    report = run_paths([CASES], catalog=catalog, coverage=True)
    assert report.uncovered == [], "\n".join(report.uncovered)
    assert report.ok, report.text()


def test_a_wrong_expectation_fails_with_exp_and_got(tmp_path, catalog, run_cli) -> None:
    scenario = ROOT / "tests/scenarios/quota-exhausted/confirmed"
    (tmp_path / "bad.test.yaml").write_text(
        "playbook: quota-exhausted\n"
        "tests:\n"
        f"  - name: wrong on purpose\n    snapshot: {scenario}\n"
        "    expect:\n      verdict: ruled_out\n      fixes: []\n"
        "      lines: {family-quota: ['limit 12 vCPUs']}\n"
    )
    code, out, _ = run_cli("playbooks", "test", str(tmp_path / "bad.test.yaml"))
    assert code == 1
    assert "verdict: exp ruled_out got confirmed" in out
    assert "fixes: exp [] got ['request-quota']" in out
    assert "0 passed, 1 failed" in out


def test_a_malformed_test_file_names_file_and_line(tmp_path, run_cli) -> None:
    (tmp_path / "bad.test.yaml").write_text(
        "playbook: quota-exhausted\ntests:\n  - name: x\n    now: '2026-11-27T07:40:00Z'\n"
        "    expect: {verdict: maybe}\n"
    )
    code, out, _ = run_cli("playbooks", "test", str(tmp_path / "bad.test.yaml"))
    assert code == 1
    assert "bad.test.yaml:5: tests[0].expect.verdict" in out


def test_a_broken_check_input_is_inconclusive_not_a_crash(catalog, tmp_path) -> None:
    (tmp_path / "t.test.yaml").write_text(
        "playbook: quota-exhausted\n"
        "tests:\n"
        "  - name: garbage usages\n"
        f"    snapshot: {ROOT / 'tests/scenarios/quota-exhausted/confirmed'}\n"
        "    evidence: {usages: {data: 'not an ARM body'}}\n"
        "    expect:\n      verdict: inconclusive\n"
        "      steps: {family-quota: inconclusive, provisioning-stalled: confirmed}\n"
        "      lines: {family-quota: ['check quota.family_headroom failed']}\n"
    )
    report = run_paths([tmp_path / "t.test.yaml"], catalog=catalog)
    assert report.ok, report.text()
