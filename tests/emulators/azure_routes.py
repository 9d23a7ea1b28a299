"""The emulated ARM and Log Analytics routes (see azure_api.py): one function per route."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from tests.emulators.azure_api import AzureEmulator, Recorded

_QUERY_ID = re.compile(r"\A//\s*gpubot:([A-Za-z0-9_.-]+)")
_LOCATION_FILTER = re.compile(r"\s*location\s+eq\s+'([^']*)'\s*", re.IGNORECASE)


class Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


# ---- identity checks: a wrong subscription, group, cluster or region is not this snapshot ----


def same(a: object, b: object) -> bool:
    return str(a or "").lower() == str(b or "").lower()


def _sub(emu: AzureEmulator, p: dict[str, str]) -> None:
    if not same(p["sub"], emu.cluster.get("subscription_id")):
        raise error(404, "SubscriptionNotFound", f"Subscription '{p['sub']}' could not be found.")


def location_scope(emu: AzureEmulator, p: dict[str, str]) -> None:
    _sub(emu, p)
    if not same(p["loc"], emu.cluster.get("location")):
        raise error(404, "LocationNotAvailableForResourceType", f"no data for {p['loc']}")


def _aks(emu: AzureEmulator, p: dict[str, str]) -> str:
    _sub(emu, p)
    if not same(p["rg"], emu.cluster.get("resource_group")):
        raise error(404, "ResourceGroupNotFound", f"Resource group '{p['rg']}' could not be found.")
    if not same(p["name"], emu.cluster.get("name")):
        raise error(404, "ResourceNotFound", f"Managed cluster '{p['name']}' was not found.")
    return f"managedClusters/{emu.cluster['name']}"


def _list(emu: AzureEmulator, rec: Recorded, body: dict[str, Any]) -> Reply:
    """A list body, split into nextLink pages when the test sets page_size."""
    items = body.get("value")
    if not emu.page_size or not isinstance(items, list):
        return Reply(200, body)
    skip = int(rec.query.get("$skiptoken", ["0"])[0])
    page = {**body, "value": items[skip : skip + emu.page_size]}
    if skip + emu.page_size < len(items):
        query = {k: v[0] for k, v in rec.query.items()}
        query["$skiptoken"] = str(skip + emu.page_size)
        page["nextLink"] = f"{emu.url}{rec.path}?{urlencode(query)}"
    return Reply(200, page)


def _precondition(emu: AzureEmulator, rec: Recorded, key: str, exists: bool) -> None:
    if_match, if_none = rec.headers.get("if-match"), rec.headers.get("if-none-match")
    current = emu.etag(key) if exists else None
    if if_match and not (exists and if_match in ("*", current)):
        raise error(412, "PreconditionFailed", f"If-Match {if_match} does not match {current}")
    if if_none == "*" and exists:
        raise error(412, "PreconditionFailed", "resource exists and If-None-Match is *")


def _put_body(rec: Recorded, current: dict[str, Any] | None, fixed: dict[str, Any]) -> dict:
    if not isinstance(rec.body, dict):
        raise error(400, "InvalidRequestContent", "request body must be a JSON object")
    new = {**rec.body, **{k: v for k, v in (current or {}).items() if k in ("id", "type")}}
    new.update(fixed)
    new.setdefault("properties", {})["provisioningState"] = "Succeeded"
    return new


# ---- routes ----------------------------------------------------------------------------------


def usages(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    location_scope(emu, p)
    return _list(emu, rec, emu.load("azure/usages.json"))


def skus(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    _sub(emu, p)
    wanted = rec.query.get("$filter", [""])[0]
    match = _LOCATION_FILTER.fullmatch(wanted)
    if wanted and not match:
        raise error(400, "InvalidFilter", f"unsupported $filter {wanted!r}")
    body = emu.load("azure/skus.json")
    if match and not same(match.group(1), emu.cluster.get("location")):
        body = {"value": []}  # the snapshot only knows its own region's SKUs
    return _list(emu, rec, body)


def managed_cluster(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    key, rel = _aks(emu, p), "azure/managed-cluster.json"
    if rec.method == "GET":
        return Reply(200, emu.load(rel), {"ETag": emu.etag(key)})
    try:
        current = emu.load(rel)
    except Reply:
        current = None
    _precondition(emu, rec, key, current is not None)
    new = _put_body(rec, current, {"name": emu.cluster["name"]})
    emu.store(rel, new)
    return Reply(200 if current else 201, new, {"ETag": emu.etag(key, bump=True)})


def user_credentials(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    _aks(emu, p)
    if emu.user_kubeconfig is None:
        raise error(403, "AuthorizationFailed", "no listClusterUserCredential permission")
    value = base64.b64encode(emu.user_kubeconfig).decode()
    return Reply(200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]})


def agent_pools(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    _aks(emu, p)
    return _list(emu, rec, emu.load("azure/agent-pools.json"))


def agent_pool(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    key, rel = f"{_aks(emu, p)}/agentPools/{p['pool']}", "azure/agent-pools.json"
    pools = emu.load(rel)
    index = next((i for i, x in enumerate(pools["value"]) if same(x.get("name"), p["pool"])), None)
    current = None if index is None else pools["value"][index]
    if rec.method == "GET":
        if current is None:
            raise error(404, "NotFound", f"Agent pool '{p['pool']}' was not found.")
        return Reply(200, current, {"ETag": emu.etag(key)})
    _precondition(emu, rec, key, current is not None)
    new = _put_body(rec, current, {"name": current["name"] if current else p["pool"]})
    if index is None:
        pools["value"].append(new)
    else:
        pools["value"][index] = new
    emu.store(rel, pools)
    return Reply(200 if current else 201, new, {"ETag": emu.etag(key, bump=True)})


def registries(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    _sub(emu, p)
    return _list(emu, rec, emu.load("azure/registries.json"))


def logs(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    if not same(p["ws"], emu.cluster.get("log_analytics_workspace_id")):
        raise error(404, "WorkspaceNotFoundError", f"workspace {p['ws']} not found")
    text = rec.body.get("query") if isinstance(rec.body, dict) else None
    match = _QUERY_ID.match(text or "")
    if match is None:
        raise error(400, "BadArgumentError", "query must start with // gpubot:<query-id>")
    return Reply(200, emu.load(f"loganalytics/{match.group(1)}.json"))


HANDLERS: dict[str, Callable[[AzureEmulator, dict[str, str], Recorded], Reply]] = {
    "usages": usages,
    "skus": skus,
    "managed_cluster": managed_cluster,
    "user_credentials": user_credentials,
    "agent_pools": agent_pools,
    "agent_pool": agent_pool,
    "registries": registries,
    "logs": logs,
}
