"""YAML with line numbers, so a bad playbook names `file:line: field: problem`."""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlError(ValueError):
    def __init__(self, filename: str, line: int, field: str, problem: str) -> None:
        super().__init__(f"{filename}:{line}: {field}: {problem}")
        self.filename, self.line, self.field, self.problem = filename, line, field, problem


def _construct(node: yaml.Node, path: Path, lines: dict[Path, int], filename: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(
                    filename,
                    key_node.start_mark.line + 1,
                    _dotted(path),
                    "merge keys are not supported",
                )
            key = _construct(key_node, (*path, "<key>"), {}, filename)
            if key in out:
                raise YamlError(
                    filename, key_node.start_mark.line + 1, _dotted((*path, key)), "duplicate key"
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, filename)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, filename) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(  # scalars: let PyYAML resolve int/bool/timestamp/...
        ""
    ).construct_object(node, deep=True)


def load(text: str, filename: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; returns the data and a path -> line map."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(filename, line, "(document)", f"invalid YAML: {problem}") from exc
    if node is None:
        raise YamlError(filename, 1, "(document)", "empty file")
    lines: dict[Path, int] = {}
    return _construct(node, (), lines, filename), lines


def line_for(path: Path, lines: dict[Path, int]) -> int:
    """The line of the deepest part of `path` that exists in the file."""
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return 1


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


dotted = _dotted
