"""Reading one Kubernetes list page by page, as raw JSON, optionally keeping only some items.

`KubeSource.list` asks; this module pages: the next page is fetched while this one decodes, a
filtered page is decoded item by item so refused items never pile up, and a continue token
that never ends is cut off.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.sources import calls, jsonstream, kube_paths
from bot.sources.kube_http import SOURCE, CallFailed, clip, parse_json
from bot.sources.kube_paths import Resource

Obj = dict[str, Any]
Keep = Callable[[Obj], bool]
# One API call (`KubeSource.read`: `Caller.read` options, one in-flight slot) -> (body, seconds)
Read = Callable[..., tuple[bytes, float]]
MAX_PAGES = 10_000  # a continue token that never ends must not loop forever
# Items per page: 2,000 pods are ~4 MB of JSON, a 150,000-pod list 75 round trips (kubectl's
# 500 would be 300); a page decodes to ~18 MB, within the 300 MB budget of a triage.
PAGE_SIZE = 2000


def read_all(
    read: Read,
    api: Any,
    res: Resource,
    version: str,
    *,
    namespace: str | None,
    labels: str | None,
    fields: str | None,
    page_size: int = PAGE_SIZE,
    keep: Keep | None = None,
) -> list[Obj]:
    """Every page of a list. The next page is asked for as soon as this page's continue
    token is read off its first bytes, so decoding a page overlaps fetching the next."""

    def fetch(token: str | None) -> bytes:
        body, _ = read(
            lambda timeout: kube_paths.list_page(
                api,
                res,
                version,
                namespace=namespace,
                label_selector=labels,
                field_selector=fields,
                limit=page_size,
                token=token,
                timeout=timeout,
            ),
            operation=f"list:{res.plural}",
            answers=(404,) if res.custom else (),  # CRD not installed: none exist
        )
        return body

    items: list[Obj] = []
    body = fetch(None)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-page") as ahead:
        for _ in range(MAX_PAGES):
            early = kube_paths.continue_token(body)
            following = ahead.submit(fetch, early) if early else None
            doc = _decode_page(body, res.plural, keep)
            items.extend(kube_paths.typed_items(doc, res, version))
            token = (doc.get("metadata") or {}).get("continue") or None
            if token != early:  # the token was not where expected: ask in order instead
                following = ahead.submit(fetch, token) if token else None
            if following is None:
                return items
            body = following.result()
    raise CallFailed(f"the {res.plural} list did not end after {MAX_PAGES} pages")


def _decode_page(body: bytes, plural: str, keep: Keep | None) -> Obj:
    """A list page. Filtered (`keep`), it is decoded item by item (bot/sources/jsonstream.py):
    refused items are garbage before the next is built, and the interpreter lock is free
    between items. Unfiltered, one json.loads: it shares each key string across the page's
    items (per-item decoding would not: +50% memory for 20,000 events)."""
    if keep is None or body.lstrip()[:1] != b"{":
        doc = parse_json(body, f"{plural} list")
        if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
            calls.failed(SOURCE, "malformed")
            raise CallFailed(f"the {plural} list response has no items array")
        if keep is not None:
            doc["items"] = [i for i in doc["items"] if isinstance(i, dict) and keep(i)]
        return dict(doc)
    kept: list[Obj] = []

    def take(item: Any) -> None:
        if isinstance(item, dict) and keep(item):
            kept.append(item)

    try:
        streamed = jsonstream.walk_list(body, take)
    except ValueError as exc:
        calls.failed(SOURCE, "malformed")
        raise CallFailed(clip(f"malformed JSON in the {plural} list response: {exc}")) from None
    if not isinstance(streamed.get("items"), list):
        calls.failed(SOURCE, "malformed")
        raise CallFailed(f"the {plural} list response has no items array")
    streamed["items"] = kept
    return streamed
