"""Load playbooks and runbooks, validating everything at load and naming `file:line: field`.

The bundled ones ship inside the package (`bot.playbooks`, `bot.runbooks`, found through
importlib.resources), so a wheel install works from any directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ValidationError

from bot.checks import CheckSpec, load_all
from bot.engine import templates
from bot.engine.yamllines import YamlError, dotted, line_for
from bot.engine.yamllines import load as load_yaml
from bot.model.evidence import Question
from bot.model.fixes import FIXES
from bot.model.playbook import PlaybookSpec, RunbookSpec


class CatalogError(ValueError):
    """One or more `file:line: field: problem` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Step:
    spec: Any  # StepSpec
    check: CheckSpec
    params: BaseModel
    wiring: dict[str, str]  # check input -> evidence name


@dataclass(frozen=True)
class Playbook:
    spec: PlaybookSpec
    path: str
    questions: dict[str, Question]
    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass
class Catalog:
    playbooks: dict[str, Playbook] = field(default_factory=dict)
    runbooks: dict[str, RunbookSpec] = field(default_factory=dict)
    runbook_paths: dict[str, str] = field(default_factory=dict)

    def runbook(self, runbook_id: str) -> RunbookSpec:
        if runbook_id not in self.runbooks:
            raise CatalogError(
                [f"unknown runbook {runbook_id!r} (known: {', '.join(self.runbooks)})"]
            )
        return self.runbooks[runbook_id]

    def select(self, ids: list[str]) -> list[Playbook]:
        return [self.playbooks[i] for i in ids]


class _Problems:
    def __init__(self, filename: str, lines: dict[Any, int]) -> None:
        self.filename, self.lines, self.items = filename, lines, list[str]()

    def add(self, path: tuple[Any, ...], problem: str) -> None:
        self.items.append(
            f"{self.filename}:{line_for(path, self.lines)}: {dotted(path)}: {problem}"
        )

    def add_validation(self, prefix: tuple[Any, ...], exc: ValidationError) -> None:
        for err in exc.errors():
            loc = tuple(part for part in err["loc"] if part not in ("function-after",))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            self.add((*prefix, *loc), msg)


def _display(path: Path | str) -> str:
    text = str(path)
    try:
        return str(Path(text).resolve().relative_to(Path.cwd()))
    except ValueError:
        return text


def _compile_playbook(data: Any, problems: _Problems, stem: str) -> Playbook | None:
    try:
        spec = PlaybookSpec.model_validate(data)
    except ValidationError as exc:
        problems.add_validation((), exc)
        _check_step_params_anyway(data, problems)
        return None
    if spec.id != stem:
        problems.add(("id",), f"must equal the file name {stem!r}")
    checks = load_all()
    questions = {name: Question.of(ev.source, ev.params) for name, ev in spec.evidence.items()}
    steps: list[Step] = []
    for i, step in enumerate(spec.steps):
        here = ("steps", i)
        check = checks.get(step.check)
        if check is None:
            problems.add((*here, "check"), f"unknown check {step.check!r}")
            continue
        wiring = {name: step.inputs.get(name, name) for name in check.inputs}
        for extra in set(step.inputs) - set(check.inputs):
            problems.add((*here, "inputs", extra), f"check {check.name} has no input {extra!r}")
        for input_name, evidence_name in wiring.items():
            where = (*here, "inputs", input_name) if input_name in step.inputs else (*here, "check")
            if evidence_name not in spec.evidence:
                problems.add(where, f"evidence {evidence_name!r} is not declared")
            elif spec.evidence[evidence_name].source != check.inputs[input_name]:
                problems.add(
                    where,
                    f"input {input_name!r} needs {check.inputs[input_name]} evidence, "
                    f"{evidence_name!r} is {spec.evidence[evidence_name].source}",
                )
        try:
            params = check.params.model_validate(step.with_)
        except ValidationError as exc:
            problems.add_validation((*here, "with"), exc)
            continue
        steps.append(Step(spec=step, check=check, params=params, wiring=wiring))
    step_ids = {s.id for s in spec.steps}
    for field_name in ("summary", "diagnosis"):
        _template_ok(getattr(spec, field_name), (field_name,), problems)
    for i, offer in enumerate(spec.fixes):
        here = ("fixes", i)
        fix = FIXES.get(offer.fix)
        if fix is None:
            problems.add((*here, "fix"), f"unknown fix {offer.fix!r} (known: {', '.join(FIXES)})")
            continue
        for step_id in offer.when:
            if step_id not in step_ids:
                problems.add((*here, "when"), f"no step {step_id!r}")
        known = set(fix.params.model_fields)
        for key, value in offer.params.items():
            if key not in known:
                problems.add((*here, "params", key), f"fix {fix.id} has no parameter {key!r}")
            _template_ok(value, (*here, "params", key), problems, param=True)
        for name, info in fix.params.model_fields.items():
            if info.is_required() and name not in offer.params:
                problems.add((*here, "params"), f"missing required parameter {name!r}")
        if offer.for_each is not None:
            _template_ok("{{ " + offer.for_each + " }}", (*here, "for_each"), problems, param=True)
    return Playbook(spec=spec, path=problems.filename, questions=questions, steps=tuple(steps))


def _check_step_params_anyway(data: Any, problems: _Problems) -> None:
    """The spec did not validate; still report check-parameter errors, so one run shows all."""
    steps = data.get("steps") if isinstance(data, dict) else None
    checks = load_all()
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict) or not isinstance(step.get("check"), str):
            continue  # a list or map here is unhashable: the spec errors already name it
        if step["check"] not in checks:
            continue
        try:
            checks[step["check"]].params.model_validate(step.get("with") or {})
        except ValidationError as exc:
            problems.add_validation(("steps", i, "with"), exc)


def _template_ok(
    value: Any, path: tuple[Any, ...], problems: _Problems, *, param: bool = False
) -> None:
    try:
        if param:
            templates.check_param_syntax(value)
        elif isinstance(value, str):
            templates.check_syntax(value)
    except jinja2.TemplateSyntaxError as exc:
        problems.add(path, f"template syntax: {exc.message} (template line {exc.lineno})")
    except RecursionError:  # Jinja's parser recurses per bracket or block
        problems.add(path, "template nested too deeply")


def _read(path: Path | Any) -> tuple[str, str]:
    name = _display(path) if isinstance(path, Path) else str(path)
    try:
        return path.read_text(encoding="utf-8"), name
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError([f"{name}:1: (document): cannot read: {exc}"]) from exc


def _yaml_files(folder: Any) -> list[Any]:
    return sorted(
        (p for p in folder.iterdir() if p.name.endswith((".yaml", ".yml"))), key=lambda p: p.name
    )


def bundled_playbooks() -> Any:
    return resources.files("bot.playbooks")


def bundled_runbooks() -> Any:
    return resources.files("bot.runbooks")


def load_catalog(playbook_dir: Path | None = None, runbook_dir: Path | None = None) -> Catalog:
    """Load and validate every playbook and runbook; collects all problems before raising."""
    catalog = Catalog()
    problems: list[str] = []
    for path in _yaml_files(playbook_dir or bundled_playbooks()):
        text, name = _read(path)
        try:
            data, lines = load_yaml(text, name)
        except YamlError as exc:
            problems.append(str(exc))
            continue
        collector = _Problems(name, lines)
        playbook = _compile_playbook(data, collector, path.name.rsplit(".", 1)[0])
        problems.extend(collector.items)
        if playbook is not None and not collector.items:
            if playbook.id in catalog.playbooks:
                problems.append(f"{name}:1: id: duplicate playbook id {playbook.id!r}")
            catalog.playbooks[playbook.id] = playbook
    for path in _yaml_files(runbook_dir or bundled_runbooks()):
        text, name = _read(path)
        try:
            data, lines = load_yaml(text, name)
        except YamlError as exc:
            problems.append(str(exc))
            continue
        collector = _Problems(name, lines)
        try:
            runbook = RunbookSpec.model_validate(data)
        except ValidationError as exc:
            collector.add_validation((), exc)
            problems.extend(collector.items)
            continue
        if runbook.id != path.name.rsplit(".", 1)[0]:
            collector.add(("id",), "must equal the file name")
        _check_runbook_refs(runbook, collector, catalog)
        problems.extend(collector.items)
        catalog.runbooks[runbook.id] = runbook
        catalog.runbook_paths[runbook.id] = name
    if problems:
        raise CatalogError(problems)
    return catalog


def _check_runbook_refs(runbook: RunbookSpec, problems: _Problems, catalog: Catalog) -> None:
    def check(ids: list[str], path: tuple[Any, ...]) -> None:
        for i, pid in enumerate(ids):
            if pid not in catalog.playbooks:
                problems.add((*path, i), f"unknown playbook {pid!r}")

    check(runbook.playbooks, ("playbooks",))
    check(runbook.fallback, ("fallback",))
    for i, route in enumerate(runbook.routes):
        check(route.playbooks, ("routes", i, "playbooks"))
