"""A List page decoded item by item gives what json.loads gives, and fails where it fails."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.jsonstream import walk_list

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
pages = st.fixed_dictionaries(
    {"items": st.lists(values, max_size=6)},
    optional={"kind": st.text(max_size=8), "metadata": values, "apiVersion": values},
)


@settings(max_examples=150, deadline=None)
@given(page=pages, indent=st.sampled_from([None, 1]), items_last=st.booleans())
def test_items_come_one_by_one_and_the_rest_as_json_loads_reads_it(
    page, indent, items_last
) -> None:
    if items_last:
        page = {**{k: v for k, v in page.items() if k != "items"}, "items": page["items"]}
    raw = json.dumps(page, indent=indent, ensure_ascii=False).encode()
    seen: list = []
    doc = walk_list(raw, seen.append)
    want = json.loads(raw)
    assert seen == want["items"]
    assert doc == {**want, "items": []}


def test_an_items_value_that_is_no_array_is_kept_as_it_is() -> None:
    seen: list = []
    assert walk_list(b'{"items": {"a": 1}}', seen.append) == {"items": {"a": 1}}
    assert seen == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"items": [1,}',
        b'{"items": [1]',
        b'{"a": 1} x',
        b"{a: 1}",
        b'{"items": [1] "b": 2}',
        b"{} x",  # found by fuzz/jsonstream.py: an empty page skipped the extra-data check
        b"{}{}",
    ],
)
def test_broken_pages_raise_like_json_loads(raw: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        walk_list(raw, lambda _item: None)


# Found by fuzz/jsonstream.py (docs/reliability.md, "Coverage-guided fuzzing"): json.loads reads
# bytes by their encoding (a UTF-8 BOM, UTF-16, UTF-32) and keeps lone surrogates; walk_list
# decoded strict UTF-8 only, so it refused pages json.loads reads.
@pytest.mark.parametrize(
    "raw",
    [
        b'\xef\xbb\xbf{"items": [1], "kind": "PodList"}',
        '{"items": [1, "\u00e9"], "kind": "PodList"}'.encode("utf-16"),
        '{"items": [{"a": 1}]}'.encode("utf-32-le"),
        b'{"items": ["\xed\xa0\x80"]}',
    ],
)
def test_pages_json_loads_reads_in_any_json_encoding_stream_the_same(raw: bytes) -> None:
    seen: list = []
    doc = walk_list(raw, seen.append)
    want = json.loads(raw)
    assert seen == want["items"]
    assert doc == {**want, "items": []}


def test_a_page_with_items_twice_is_refused() -> None:
    # json.loads keeps the last `items`; the first one's items were already handed out.
    with pytest.raises(ValueError, match="Duplicate items key"):
        walk_list(b'{"items": [1], "kind": "PodList", "items": [2]}', lambda _item: None)


def test_nesting_too_deep_is_a_value_error_not_a_recursion_error() -> None:
    raw = b'{"items": [' + b"[" * 100_000
    with pytest.raises(RecursionError):
        json.loads(raw)
    with pytest.raises(ValueError, match="nesting too deep"):
        walk_list(raw, lambda _item: None)
