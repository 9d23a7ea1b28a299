"""Discover scenario modules, write them, and compare the committed copies."""

from __future__ import annotations

import filecmp
import importlib
import pkgutil
import tempfile
from pathlib import Path

import yaml

from tests.scenarios.builder import base

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT.parent.parent / "bot" / "data" / "demo"  # bundled in the package for --demo


def load() -> dict[str, base.Scenario]:
    package = importlib.import_module("tests.scenarios.builder")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in {"base", "catalog", "__main__"}:
            importlib.import_module(f"tests.scenarios.builder.{info.name}")
    return base.SCENARIOS


def target_of(scenario: base.Scenario, root: Path) -> Path:
    return (root / "_demo") if scenario.path == "demo" and root != ROOT else DEMO if scenario.path == "demo" else root / scenario.path


def write(scenario: base.Scenario, root: Path) -> None:
    target = target_of(scenario, root)
    scenario.build().write(target)
    expect = {"description": scenario.description, "confirmed": list(scenario.confirmed)}
    (target / "expect.yaml").write_text(yaml.safe_dump(expect, sort_keys=False), encoding="utf-8")


def build_all(root: Path = ROOT) -> list[str]:
    written = []
    for path, scenario in sorted(load().items()):
        write(scenario, root)
        written.append(path)
    return written


def _diff(left: Path, right: Path, rel: str) -> list[str]:
    cmp = filecmp.dircmp(left, right)
    out = [f"{rel}/{n}: only in built" for n in cmp.left_only]
    out += [f"{rel}/{n}: only in committed" for n in cmp.right_only]
    out += [f"{rel}/{n}: differs" for n in cmp.diff_files]
    for sub in cmp.common_dirs:
        out += _diff(left / sub, right / sub, f"{rel}/{sub}")
    return out


def compare_all(root: Path = ROOT) -> list[str]:
    drift = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, scenario in sorted(load().items()):
            write(scenario, Path(tmp))
            committed = target_of(scenario, root)
            if not committed.is_dir():
                drift.append(f"{path}: not committed (run python -m tests.scenarios.builder)")
                continue
            drift += _diff(target_of(scenario, Path(tmp)), committed, path)
    return drift
