"""What Azure fixes read: the managed cluster, its agent pools, quota usage and VM SKUs.

`LiveAzureState` reads through the official SDK clients of an `AzureSource` and returns the
REST JSON exactly as ARM sent it, with the ETag a conditional write needs. ARM sends the ETag
as a header and, for AKS, also in the body (`eTag` on the cluster, `properties.eTag` on a
pool); the header wins, the body is the fallback. `SnapshotAzureState` answers the same
questions from a snapshot's azure/*.json: no ETag, so its plans can be shown, never applied.

A read that fails raises `FixFailed` with a token-free reason; a target that does not exist
raises `FixRefused` (agent pools: `(None, None)`, as the protocol says).
"""

from __future__ import annotations

import threading
from typing import Any

from bot.model.evidence import Question
from bot.model.plans import FixFailed, FixRefused

Body = dict[str, Any]


def _same(a: object, b: object) -> bool:
    return str(a or "").lower() == str(b or "").lower()


def _usage_named(body: Body | None, family: str) -> Body | None:
    for usage in (body or {}).get("value") or []:
        if _same((usage.get("name") or {}).get("value"), family):
            return dict(usage)
    return None


def _vm_sku_named(entries: list[Body], name: str) -> Body | None:
    for sku in entries:
        if _same(sku.get("resourceType"), "virtualMachines") and _same(sku.get("name"), name):
            return sku
    return None


def _json_and_etag(pipeline_response: Any, deserialized: Any, headers: Any) -> tuple[Body, Any]:
    """azure-core `cls=` callback: the body as ARM sent it, and the ETag response header."""
    response = pipeline_response.http_response
    return response.json(), response.headers.get("ETag")


class LiveAzureState:
    def __init__(self, azure_source: Any) -> None:
        self.azure = azure_source
        self.cluster = azure_source.cluster
        self._skus: list[Body] | None = None
        self._lock = threading.Lock()

    def _need(self, *keys: str) -> None:
        for key in keys:
            if not getattr(self.cluster, key):
                raise FixRefused(f"cluster {self.cluster.name}: {key} is not configured")

    def _failed(self, what: str, exc: Exception) -> FixFailed:
        return FixFailed(f"reading {what} failed: {self.azure.reason(exc)}")

    def managed_cluster(self) -> tuple[Body, str | None]:
        from azure.core.exceptions import ResourceNotFoundError

        self._need("subscription_id", "resource_group")
        rg, name = self.cluster.resource_group, self.cluster.name
        try:
            body, etag = self.azure.client("aks").managed_clusters.get(rg, name, cls=_json_and_etag)
        except ResourceNotFoundError:
            raise FixRefused(f"managed cluster {name} not found in resource group {rg}") from None
        except Exception as exc:
            raise self._failed(f"managed cluster {name}", exc) from None
        return body, etag or body.get("eTag")

    def agent_pool(self, name: str) -> tuple[Body | None, str | None]:
        from azure.core.exceptions import ResourceNotFoundError

        self._need("subscription_id", "resource_group")
        try:
            body, etag = self.azure.client("aks").agent_pools.get(
                self.cluster.resource_group, self.cluster.name, name, cls=_json_and_etag
            )
        except ResourceNotFoundError:
            return None, None
        except Exception as exc:
            raise self._failed(f"agent pool {name}", exc) from None
        return body, etag or (body.get("properties") or {}).get("eTag")

    def agent_pools(self) -> list[Body]:
        self._need("subscription_id", "resource_group")
        try:
            pager = self.azure.client("aks").agent_pools.list(
                self.cluster.resource_group, self.cluster.name
            )
            return [pool.as_dict() for pool in pager]
        except Exception as exc:
            raise self._failed("agent pools", exc) from None

    def usage(self, family: str) -> Body | None:
        self._need("subscription_id", "location")
        try:
            entries = [
                u.as_dict() for u in self.azure.client("compute").usage.list(self.cluster.location)
            ]
        except Exception as exc:
            raise self._failed(f"quota usage in {self.cluster.location}", exc) from None
        return _usage_named({"value": entries}, family)

    def vm_sku(self, name: str) -> Body | None:
        self._need("subscription_id", "location")
        with self._lock:  # the region's SKU list is large: read it once per context
            if self._skus is None:
                try:
                    pager = self.azure.client("compute").resource_skus.list(
                        filter=f"location eq '{self.cluster.location}'"
                    )
                    self._skus = [sku.as_dict() for sku in pager]
                except Exception as exc:
                    raise self._failed(f"VM SKUs in {self.cluster.location}", exc) from None
            return _vm_sku_named(self._skus, name)


class SnapshotAzureState:
    """The snapshot's azure/*.json; nothing carries an ETag (a snapshot plan is never applied)."""

    def __init__(self, snapshot_source: Any) -> None:
        self.source = snapshot_source
        self.cluster = snapshot_source.cluster

    def _body(self, kind: str) -> Body | None:
        answer = self.source.answer(Question.of(kind))
        return answer.data if answer.available else None

    def _list(self, kind: str, file: str) -> list[Body]:
        body = self._body(kind)
        if body is None:
            raise FixRefused(f"azure/{file} is not in the snapshot")
        return list(body.get("value") or [])

    def managed_cluster(self) -> tuple[Body, str | None]:
        body = self._body("azure.managed_cluster")
        if body is None:
            raise FixRefused("azure/managed-cluster.json is not in the snapshot")
        return body, None

    def agent_pool(self, name: str) -> tuple[Body | None, str | None]:
        pools = self._list("azure.agent_pools", "agent-pools.json")
        return next((p for p in pools if _same(p.get("name"), name)), None), None

    def agent_pools(self) -> list[Body]:
        return self._list("azure.agent_pools", "agent-pools.json")

    def usage(self, family: str) -> Body | None:
        body = self._body("azure.usages")
        if body is None:
            raise FixRefused("azure/usages.json is not in the snapshot")
        return _usage_named(body, family)

    def vm_sku(self, name: str) -> Body | None:
        body = self._body("azure.skus")
        return None if body is None else _vm_sku_named(list(body.get("value") or []), name)
