"""Decode a Kubernetes List page one item at a time.

`json.loads` of a 2,000-pod page (4 MB) is one C call that holds the interpreter lock for
~0.1 s and builds every pod before any is dropped. Walking the top-level object with
`JSONDecoder.raw_decode` decodes each item on its own: the lock is released between items (so
a Slack ack waiting on it is served within milliseconds), and an item the caller does not keep
is garbage before the next one is built. Same values as `json.loads`, same errors, with one
exception: a page with `items` twice is refused, since the items already handed out cannot be
taken back (json.loads keeps the last). fuzz/jsonstream.py checks this contract differentially.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _expect(text: str, at: int, char: str) -> int:
    at = _skip(text, at)
    if text[at : at + 1] != char:
        raise json.JSONDecodeError(f"Expecting '{char}'", text, at)
    return at + 1


def walk_list(body: bytes, on_item: Callable[[Any], None]) -> dict[str, Any]:
    """The page's top-level object, `items` left empty: each item is handed to `on_item` as it
    is decoded, in order. Raises ValueError (JSONDecodeError, UnicodeDecodeError) where
    json.loads would, also for nesting too deep for the decoder (json.loads: RecursionError).
    An `items` that is not an array is decoded into the result as it is."""
    # As json.loads decodes bytes: UTF-8/16/32 by the first bytes, lone surrogates kept.
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    try:
        doc, at = _object(text, on_item)
    except RecursionError:
        raise json.JSONDecodeError("nesting too deep", text, 0) from None
    if text[_skip(text, at) :]:
        raise json.JSONDecodeError("Extra data", text, _skip(text, at))
    return doc


def _object(text: str, on_item: Callable[[Any], None]) -> tuple[dict[str, Any], int]:
    doc: dict[str, Any] = {}
    at = _skip(text, _expect(text, 0, "{"))
    if text[at : at + 1] == "}":
        return doc, at + 1
    while True:
        at = _skip(text, at)
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, at
            )
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, _expect(text, at, ":"))
        if key == "items" and "items" in doc:
            raise json.JSONDecodeError("Duplicate items key", text, at)
        if key == "items" and text[at : at + 1] == "[":
            at = _items(text, at, on_item)
            doc["items"] = []
        else:  # any other value, and an `items` that is no array, decode whole
            doc[key], at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if text[at : at + 1] == "}":
            return doc, at + 1
        at = _expect(text, at, ",")


def _items(text: str, at: int, on_item: Callable[[Any], None]) -> int:
    at = _skip(text, at + 1)  # past the "["
    if text[at : at + 1] == "]":
        return at + 1
    while True:
        item, at = _DECODER.raw_decode(text, at)
        on_item(item)
        at = _skip(text, at)
        if text[at : at + 1] == "]":
            return at + 1
        at = _skip(text, _expect(text, at, ","))
