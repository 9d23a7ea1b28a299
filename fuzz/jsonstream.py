"""Differential fuzzing of bot/sources/jsonstream.py against json.loads.

For any bytes, `walk_list` must hand out exactly the items json.loads finds in the page (and
return the rest of the page as json.loads reads it), or raise ValueError where json.loads fails.
The one documented difference: a page with `items` twice is refused, because items already
handed out cannot be taken back (json.loads keeps the last). Every input is also checked cut off
at a fuzzer-chosen point, the way a dropped connection truncates a page mid-chunk.

    python fuzz/jsonstream.py [libFuzzer args] [corpus dirs]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["bot"]):  # coverage of our code only
    from bot.sources import jsonstream

HERE = Path(__file__).resolve().parent


def _oracle(body: bytes) -> tuple[Any, list[str]]:
    """json.loads' value, and the keys of the top-level object in order (duplicates kept)."""
    keys: list[list[str]] = []

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys.append([k for k, _ in pairs])  # innermost objects first; the top level comes last
        return dict(pairs)

    value = json.loads(body, object_pairs_hook=pairs_to_dict)
    return value, (keys[-1] if isinstance(value, dict) else [])


def check(body: bytes, walk_list=jsonstream.walk_list) -> None:
    """Raise AssertionError when `walk_list` and json.loads disagree about `body`."""
    try:
        want, top_keys = _oracle(body)
    except (ValueError, RecursionError):
        want, top_keys = None, []
        expect_error = "json.loads fails"
    else:
        expect_error = (
            "not an object"
            if not isinstance(want, dict)
            else "items twice"
            if top_keys.count("items") > 1
            else ""
        )
    seen: list[Any] = []
    try:
        got = walk_list(body, seen.append)
    except ValueError as exc:
        assert expect_error, f"walk_list refused a page json.loads reads: {exc!r}"
        return
    assert not expect_error, f"walk_list accepted a page it must refuse ({expect_error})"
    items = want.get("items")
    if isinstance(items, list):
        want_items, want_doc = items, {**want, "items": []}
    else:  # an `items` that is no array (or none) is part of the page as it is
        want_items, want_doc = [], want
    # repr, not ==: NaN is a value json.loads returns, and NaN != NaN
    assert repr(seen) == repr(want_items), f"items differ: {seen!r} != {want_items!r}"
    assert repr(got) == repr(want_doc), f"page differs: {got!r} != {want_doc!r}"


def test_one_input(data: bytes) -> None:
    check(data)
    if len(data) > 1:
        # A truncated page: cut where the fuzzer's last two bytes say.
        cut = int.from_bytes(data[-2:], "little") % len(data)
        check(data[:cut])


def main() -> None:
    argv = list(sys.argv)
    if not any(arg.startswith("-dict=") for arg in argv):
        argv.insert(1, f"-dict={HERE / 'dicts' / 'json.dict'}")
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
