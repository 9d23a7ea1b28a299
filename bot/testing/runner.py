"""Run playbook test files through the production engine and report exp/got like promtool.

Evidence comes from a snapshot (the real snapshot source) and/or per-name overrides, served
through the same Source interface, so `engine.runner` runs unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.engine.evidence import EvidenceCache
from bot.engine.loader import Catalog, CatalogError, Playbook
from bot.engine.runner import run_playbook
from bot.engine.yamllines import YamlError, dotted, line_for
from bot.engine.yamllines import load as load_yaml
from bot.model.context import CheckContext, Scope
from bot.model.evidence import Answer, Question
from bot.model.text import parse_time
from bot.model.thresholds import Thresholds
from bot.model.verdicts import Finding
from bot.sources.base import BadInput, ClusterInfo
from bot.sources.snapshot import SnapshotSource
from bot.testing.cases import Case, TestFile


class _CaseSource:
    """Answers by evidence override first, then from the snapshot (if any)."""

    kind = "test"

    def __init__(
        self, snapshot: SnapshotSource | None, overrides: dict[Question, Answer], now: datetime
    ) -> None:
        self.snapshot, self.overrides, self._now = snapshot, overrides, now
        self.cluster = (
            snapshot.cluster if snapshot else ClusterInfo(name="test-cluster", location="eastus2")
        )

    def now(self) -> datetime:
        return self._now

    def answer(self, question: Question) -> Answer:
        if question in self.overrides:
            return self.overrides[question]
        if self.snapshot is not None:
            return self.snapshot.answer(question)
        return Answer.missing(question, "not given in the test case")


@dataclass
class CaseResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    finding: Finding | None = None


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)
    coverage_required: bool = False

    @property
    def ok(self) -> bool:
        failed = any(r.failures for r in self.results) or self.errors
        return not failed and not (self.coverage_required and self.uncovered)

    def text(self) -> str:
        out: list[str] = []
        for r in self.results:
            if r.failures:
                out.append(f"FAILED {r.file}: {r.name}")
                out.extend(f"    {line}" for line in r.failures)
        out.extend(f"ERROR {e}" for e in self.errors)
        if self.uncovered:
            label = "UNCOVERED" if self.coverage_required else "not covered"
            out.extend(f"{label} {u}" for u in self.uncovered)
        passed = sum(1 for r in self.results if not r.failures)
        failed = len(self.results) - passed + len(self.errors)
        out.append(f"{passed} passed, {failed} failed")
        return "\n".join(out) + "\n"


def _load_override(path: Path, text: str) -> Any:
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


def _overrides(
    case: Case, playbook: Playbook, base: Path
) -> tuple[dict[Question, Answer], list[str]]:
    out, problems = {}, []
    for name, override in case.evidence.items():
        question = playbook.questions.get(name)
        if question is None:
            problems.append(f"evidence {name!r}: playbook {playbook.id} declares no such evidence")
            continue
        if override.unavailable is not None:
            out[question] = Answer.missing(question, override.unavailable)
        elif override.file is not None:
            path = base / override.file
            try:
                out[question] = Answer(
                    question, _load_override(path, path.read_text(encoding="utf-8"))
                )
            except (OSError, ValueError, yaml.YAMLError) as exc:
                problems.append(f"evidence {name!r}: cannot load {override.file}: {exc}")
        else:
            out[question] = Answer(question, override.data)
    return out, problems


def _compare(case: Case, f: Finding) -> list[str]:
    exp, failures = case.expect, []
    by_step = {o.step: o for o in f.steps}
    if exp.verdict and str(f.verdict) != exp.verdict:
        failures.append(f"verdict: exp {exp.verdict} got {f.verdict}  ({f.summary})")
    for step, verdict in exp.steps.items():
        got = by_step.get(step)
        if got is None:
            failures.append(f"step {step}: no such step in {f.playbook}")
        elif str(got.verdict) != verdict:
            failures.append(f"step {step}: exp {verdict} got {got.verdict}  ({got.detail})")
    if exp.fixes is not None:
        got_fixes = sorted(x.id for x in f.fixes)
        if got_fixes != sorted(exp.fixes):
            failures.append(f"fixes: exp {sorted(exp.fixes)} got {got_fixes}")
    for fix_id, params in exp.fix_params.items():
        offer = next((x for x in f.fixes if x.id == fix_id), None)
        if offer is None:
            failures.append(f"fix_params {fix_id}: fix not offered")
            continue
        for key, value in params.items():
            if offer.params.get(key) != value:
                failures.append(
                    f"fix_params {fix_id}.{key}: exp {value!r} got {offer.params.get(key)!r}"
                )
    for step, needles in exp.lines.items():
        text = "\n".join(by_step[step].lines) if step in by_step else ""
        for needle in needles:
            if needle not in text:
                failures.append(f"lines {step}: exp to contain {needle!r} got {text!r}")
    if exp.summary is not None and exp.summary not in f.summary:
        failures.append(f"summary: exp to contain {exp.summary!r} got {f.summary!r}")
    return failures


def run_case(case: Case, playbook: Playbook, base: Path, file: str) -> CaseResult:
    result = CaseResult(file=file, name=case.name)
    snapshot = None
    if case.snapshot is not None:
        try:
            snapshot = SnapshotSource(base / case.snapshot)
        except BadInput as exc:
            result.failures.append(f"snapshot: {exc}")
            return result
    now = parse_time(case.now) if case.now else snapshot.now() if snapshot else None
    if now is None:
        result.failures.append(f"now: not an RFC 3339 time: {case.now!r}")
        return result
    overrides, problems = _overrides(case, playbook, base)
    if problems:
        result.failures.extend(problems)
        return result
    source = _CaseSource(snapshot, overrides, now)
    scope = Scope(*(case.scope.split("/", 1) if "/" in (case.scope or "") else (case.scope, None)))
    ctx = CheckContext(
        now=now,
        thresholds=case.thresholds or Thresholds(),
        scope=scope,
        cluster=source.cluster.as_dict(),
    )
    finding = run_playbook(playbook, EvidenceCache(source), ctx)
    result.finding = finding
    result.failures = _compare(case, finding)
    return result


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(path.rglob("*.test.yaml")))
        elif path.exists():
            out.append(path)
        else:
            raise BadInput(f"{path}: no such test file or folder")
    return out


def load_file(path: Path) -> TestFile:
    data, lines = load_yaml(path.read_text(encoding="utf-8"), str(path))
    try:
        return TestFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = (
                "unknown key"
                if err["type"] == "extra_forbidden"
                else err["msg"].removeprefix("Value error, ")
            )
            problems.append(f"{path}:{line_for(loc, lines)}: {dotted(loc)}: {msg}")
        raise CatalogError(problems) from exc


def run_paths(
    paths: list[Path], *, catalog: Catalog, name_filter: str | None = None, coverage: bool = False
) -> Report:
    report = Report(coverage_required=coverage)
    seen: dict[tuple[str, str], set[str]] = {}
    pattern = re.compile(name_filter) if name_filter else None
    for path in _files(paths):
        try:
            spec = load_file(path)
        except (CatalogError, YamlError) as exc:
            report.errors.extend(str(exc).splitlines())
            continue
        playbook = catalog.playbooks.get(spec.playbook)
        if playbook is None:
            report.errors.append(f"{path}: playbook {spec.playbook!r} is not loaded")
            continue
        for case in spec.tests:
            if pattern and not pattern.search(case.name):
                continue
            result = run_case(case, playbook, path.parent, str(path))
            report.results.append(result)
            if result.finding is not None and not result.failures:
                for step, verdict in case.expect.steps.items():
                    seen.setdefault((playbook.id, step), set()).add(
                        "confirmed" if verdict == "confirmed" else "not"
                    )
    if pattern is None:
        for playbook in catalog.playbooks.values():
            for step in playbook.spec.steps:
                got = seen.get((playbook.id, step.id), set())
                for want in ("confirmed", "not"):
                    if want not in got:
                        what = "confirmed" if want == "confirmed" else "not confirmed"
                        report.uncovered.append(
                            f"{playbook.path}: step {step.id}: never expected {what}"
                        )
    return report
