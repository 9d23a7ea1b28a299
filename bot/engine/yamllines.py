"""YAML with line numbers, so a bad playbook names `file:line: field: problem`.

Playbooks, runbooks and playbook tests are plain data, so only plain data is accepted: the
core tags (map, seq, str, int, float, bool, null, timestamp), scalar keys, bounded size, depth
and alias expansion. Anything else is a YamlError naming the file, line and field, never
another exception: a hostile file must not crash the loader, run code or stall it.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]

MAX_CHARS = 1 << 20  # the largest bundled playbook is ~10 KB
MAX_DEPTH = 64  # nesting of mappings and sequences
MAX_NODES = 100_000  # nodes built, alias expansions included (stops "billion laughs")
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}


class YamlError(ValueError):
    def __init__(self, filename: str, line: int, field: str, problem: str) -> None:
        super().__init__(f"{filename}:{line}: {field}: {problem}")
        self.filename, self.line, self.field, self.problem = filename, line, field, problem


class _Builder:
    """Turns a composed node graph into Python data, with the limits above."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[Path, int] = {}
        self.nodes = 0
        self.open: set[int] = set()  # ids of the nodes being built: an alias to one is a cycle
        self.scalars = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, path: Path, problem: str) -> YamlError:
        return YamlError(self.filename, node.start_mark.line + 1, _dotted(path), problem)

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, path, f"more than {MAX_NODES} values (alias expansion?)")
        if len(path) > MAX_DEPTH:
            raise self.fail(node, path, f"nested deeper than {MAX_DEPTH} levels")
        if id(node) in self.open:
            raise self.fail(node, path, "an alias refers to a value that contains it")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if node.tag != _CORE + "seq":
                raise self.fail(node, path, f"YAML tag {node.tag} is not allowed here")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        if node.tag != _CORE + "map":
            raise self.fail(node, path, f"YAML tag {node.tag} is not allowed here")
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _CORE + "merge":
                raise self.fail(key_node, path, "merge keys are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, path, "a key must be a plain scalar, not a list or map")
            key = self._scalar(key_node, (*path, "<key>"))
            if key in out:
                raise self.fail(key_node, (*path, key), "duplicate key")
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, (*path, key))
        return out

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self.fail(node, path, f"YAML tag {node.tag} is not allowed (plain data only)")
        try:  # PyYAML resolves int/bool/timestamp/...; an explicit tag may not fit the text,
            # and then its constructors fail in many ways (`!!timestamp x`: AttributeError)
            return self.scalars.construct_object(node, deep=True)
        except Exception as exc:
            raise self.fail(
                node, path, f"not a valid {node.tag.removeprefix(_CORE)}: {exc}"
            ) from exc


def _check_depth(text: str, filename: str) -> None:
    """PyYAML's composer recurses per level; refuse deep nesting from the flat event stream
    first, so the line of the offending value is known and no RecursionError escapes."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise YamlError(filename, line, "(document)", f"nested deeper than {MAX_DEPTH}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load(text: str, filename: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; returns the data and a path -> line map."""
    if len(text) > MAX_CHARS:
        raise YamlError(filename, 1, "(document)", f"file larger than {MAX_CHARS} characters")
    try:
        _check_depth(text, filename)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(filename, line, "(document)", f"invalid YAML: {problem}") from exc
    if node is None:
        raise YamlError(filename, 1, "(document)", "empty file")
    builder = _Builder(filename)
    return builder.build(node, ()), builder.lines


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
