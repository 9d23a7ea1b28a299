"""Malformed playbooks and runbooks: one clear `file:line: field: problem` each, nothing loads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.engine.loader import CatalogError, load_catalog
from tests.conftest import ROOT

GOOD = (ROOT / "playbooks" / "quota-exhausted.yaml").read_text()


def _catalog_with(tmp_path: Path, text: str, name: str = "quota-exhausted.yaml") -> list[str]:
    pb, rb = tmp_path / "playbooks", tmp_path / "runbooks"
    pb.mkdir()
    rb.mkdir()
    (pb / name).write_text(text)
    (rb / "triage.yaml").write_text("id: triage\ntitle: t\nplaybooks: [quota-exhausted]\n")
    with pytest.raises(CatalogError) as exc:
        load_catalog(pb, rb)
    return exc.value.problems


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ("owner: quota\n", "owner: quota\nseverity: high\n", "severity", "unknown key"),
        (
            "check: quota.regional_cap",
            "check: quota.no_such_check",
            "steps[2].check",
            "unknown check 'quota.no_such_check'",
        ),
        (
            "with: {headroom_nodes: 1}",
            "with: {headroom_nodes: lots}",
            "steps[1].with.headroom_nodes",
            "valid integer",
        ),
        (
            "with: {headroom_nodes: 1}",
            "with: {headroom: 1}",
            "steps[1].with.headroom",
            "unknown key",
        ),
        (
            "    check: quota.family_headroom\n",
            "    check: quota.family_headroom\n    inputs: {usages: quotas}\n",
            "steps[1].inputs.usages",
            "evidence 'quotas' is not declared",
        ),
        (
            "    check: quota.family_headroom\n",
            "    check: quota.family_headroom\n    inputs: {usages: skus}\n",
            "steps[1].inputs.usages",
            "needs azure.usages evidence",
        ),
        ("{{ facts.family }} limit", "{{ facts.family limit", "summary", "template syntax"),
        (
            "  - fix: request-quota\n    when: [family-quota]",
            "  - fix: request-more-gpus\n    when: [family-quota]",
            "fixes[0].fix",
            "unknown fix 'request-more-gpus'",
        ),
        (
            '      new_limit: "{{ facts.new_limit }}"\n  - fix',
            "      limit: 5\n  - fix",
            "fixes[0].params.limit",
            "no parameter 'limit'",
        ),
        (
            "role: cause\n    check: quota.regional_cap",
            "role: maybe\n    check: quota.regional_cap",
            "steps[2].role",
            "Input should be",
        ),
        (
            "source: azure.skus",
            "source: azure.vm_sizes",
            "evidence.skus",
            "unknown source 'azure.vm_sizes'",
        ),
        (
            "params: {resource: workspaces}",
            "params: {resource: workspaces, fieldSelector: x}",
            "evidence.workspaces.fieldSelector",
            "unknown key",
        ),
        ("explanation: https://", "explanation: http://", "explanation", "https://"),
        ("id: quota-exhausted", "id: quota-gone", "id", "must equal the file name"),
    ],
)
def test_bad_playbook_names_file_line_and_field(tmp_path, old, new, field, problem) -> None:
    assert old in GOOD, old
    text = GOOD.replace(old, new, 1)
    problems = _catalog_with(tmp_path, text)
    joined = "\n".join(problems)
    match = [p for p in problems if f": {field}: " in p or f": {field}" in p.split(": ")[1:2]]
    assert match, joined
    line = match[0]
    assert re.match(r"^.*quota-exhausted\.yaml:\d+: ", line), line
    assert problem in line, line


def test_line_numbers_point_at_the_offending_line(tmp_path) -> None:
    text = GOOD.replace("owner: quota\n", "owner: quota\nseverity: high\n").replace(
        "with: {headroom_nodes: 1}", "with: {headroom_nodes: lots}"
    )
    problems = _catalog_with(tmp_path, text)
    assert any(
        f"quota-exhausted.yaml:{_line_of(text, 'severity: high')}: severity: unknown key" in p
        for p in problems
    ), problems
    assert any(
        f"quota-exhausted.yaml:{_line_of(text, 'headroom_nodes: lots')}: "
        "steps[1].with.headroom_nodes:" in p
        for p in problems
    ), problems


def test_invalid_yaml_reports_the_line(tmp_path) -> None:
    text = GOOD.replace("steps:\n", "steps: [\n", 1)
    problems = _catalog_with(tmp_path, text)
    problems = [p for p in problems if "quota-exhausted.yaml" in p]
    assert len(problems) == 1
    assert re.match(r"^.*quota-exhausted\.yaml:\d+: \(document\): invalid YAML", problems[0])


def test_duplicate_key_is_an_error(tmp_path) -> None:
    text = GOOD.replace("title: GPU family quota exhausted\n", "title: a\ntitle: b\n", 1)
    problems = _catalog_with(tmp_path, text)
    assert any(
        f"quota-exhausted.yaml:{_line_of(text, 'title: b')}: title: duplicate key" in p
        for p in problems
    )


def test_runbook_naming_an_unknown_playbook_is_an_error(tmp_path) -> None:
    pb, rb = tmp_path / "playbooks", tmp_path / "runbooks"
    shutil.copytree(ROOT / "playbooks", pb)
    rb.mkdir()
    (rb / "triage.yaml").write_text(
        "id: triage\ntitle: t\nplaybooks:\n  - quota-exhausted\n  - quota-vanished\n"
    )
    with pytest.raises(CatalogError) as exc:
        load_catalog(pb, rb)
    assert any(
        "triage.yaml:5: playbooks[1]: unknown playbook 'quota-vanished'" in p
        for p in exc.value.problems
    )


def test_all_problems_are_reported_together(tmp_path) -> None:
    text = GOOD.replace("owner: quota\n", "owner: quota\ncolour: red\n").replace(
        "check: quota.regional_cap", "check: nope.nope"
    )
    problems = _catalog_with(tmp_path, text)
    assert len(problems) >= 2


def test_cli_lint_reports_and_exits_2(tmp_path, run_cli) -> None:
    pb = tmp_path / "playbooks"
    pb.mkdir()
    (pb / "quota-exhausted.yaml").write_text(
        GOOD.replace("owner: quota\n", "owner: quota\nseverity: high\n")
    )
    code, _, err = run_cli("playbooks", "lint", "--playbooks-dir", str(pb))
    assert code == 2
    assert "quota-exhausted.yaml:" in err and "severity: unknown key" in err
    assert "Traceback" not in err


def test_bundled_playbooks_are_found_through_the_package(catalog) -> None:
    from importlib import resources

    names = {p.name for p in resources.files("bot.playbooks").iterdir()}
    assert "quota-exhausted.yaml" in names and "playbook.schema.json" in names
    assert "quota-exhausted" in catalog.playbooks


def test_every_yaml_references_its_schema_and_validates_against_it() -> None:
    import json

    import jsonschema
    import yaml

    for folder, schema_name in (
        ("playbooks", "playbook.schema.json"),
        ("runbooks", "runbook.schema.json"),
    ):
        schema = json.loads((ROOT / folder / schema_name).read_text())
        for path in sorted((ROOT / folder).glob("*.yaml")):
            text = path.read_text()
            assert text.startswith(f"# yaml-language-server: $schema={schema_name}"), path
            jsonschema.validate(yaml.safe_load(text), schema)


def test_shipped_schemas_are_fresh() -> None:
    from bot.engine.schema import playbook_schema, runbook_schema, to_json

    assert (ROOT / "playbooks/playbook.schema.json").read_text() == to_json(playbook_schema())
    assert (ROOT / "runbooks/runbook.schema.json").read_text() == to_json(runbook_schema())
