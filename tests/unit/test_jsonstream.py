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
    ],
)
def test_broken_pages_raise_like_json_loads(raw: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        walk_list(raw, lambda _item: None)
