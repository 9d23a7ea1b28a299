from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


def scenario_dirs() -> list[Path]:
    return sorted(p.parent for p in SCENARIOS.rglob("expect.yaml"))


@pytest.fixture(scope="session")
def catalog():
    from bot.engine.loader import load_catalog

    return load_catalog()


@pytest.fixture
def run_cli(capsys):
    """Run `gpubot ...` in-process; returns (exit code, stdout, stderr)."""
    from bot.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def diagnose_json(run_cli):
    def run(snapshot: Path, *extra: str) -> dict:
        code, out, err = run_cli(
            "diagnose", "--snapshot", str(snapshot), "--format", "json", "--no-progress", *extra
        )
        assert code == 0, err
        return json.loads(out)

    return run
