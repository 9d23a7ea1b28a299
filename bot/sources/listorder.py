"""The order an API server lists objects in: by storage key, `<namespace>/<name>` (or `<name>`
for cluster-scoped kinds), compared as bytes, as etcd returns them.

`kubectl get -A -o json` prints lists in this order, so a real snapshot is already sorted; test
fixtures may not be. The snapshot reader, the live source (when it merges narrow lists) and the
test emulator all order by this key, so checks that show "the first N" see the same N.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def storage_key(obj: dict[str, Any]) -> bytes:
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    return (f"{ns}/{name}" if ns else str(name)).encode("utf-8")


def api_order(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(objects, key=storage_key)
