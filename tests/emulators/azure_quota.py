"""Microsoft.Quota over the snapshot's usages (see azure_api.py): quotas and quota requests.

A PUT files a request. With `desk.mode = "grant"` (the default) Azure decides at once: 200,
the usage limit rises, and Location names quotaRequests/{id}. With `"pending"` it answers
202 with Location operationsStatus/{id} (as for a request routed to support) and nothing
changes until the test calls `AzureEmulator.decide_quota_request(id, granted=...)`.
`quotaRequests/{id}` answers with the request's details (shape of the REST spec's example).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.emulators.azure_routes import Reply, error, location_scope, same

if TYPE_CHECKING:
    from tests.emulators.azure_api import AzureEmulator, Recorded

SUBMITTED = "2026-11-27T07:41:00Z"


@dataclass
class QuotaRequest:
    id: str
    scope: str
    family: dict[str, str]  # {"value", "localizedValue"}
    limit: int
    state: str  # InProgress | Succeeded | Failed
    message: str = ""


@dataclass
class QuotaDesk:
    mode: str = "grant"  # "grant" | "pending"
    requests: dict[str, QuotaRequest] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> str:
        with self._lock:
            return f"2b5c8515-37d8-4b6a-879b-{next(self._ids):012d}"


def _entry(emu: AzureEmulator, family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = emu.load("azure/usages.json")
    entry = next(
        (u for u in body["value"] if same((u.get("name") or {}).get("value"), family)), None
    )
    if entry is None:
        raise error(404, "ResourceNotFound", f"no quota named {family}")
    return body, entry


def _raise_limit(emu: AzureEmulator, family: str, limit: int) -> None:
    body, entry = _entry(emu, family)
    entry["limit"] = limit
    emu.store("azure/usages.json", body)


def quota(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    location_scope(emu, p)
    _, entry = _entry(emu, p["family"])
    scope = f"/subscriptions/{p['sub']}/providers/Microsoft.Compute/locations/{p['loc']}"
    headers: dict[str, str] = {}
    if rec.method == "PUT":
        limit = ((rec.body or {}).get("properties") or {}).get("limit") or {}
        if not isinstance(limit.get("value"), int) or limit["value"] < 0:
            raise error(400, "InvalidQuotaLimit", "properties.limit.value must be an integer >= 0")
        desk, request_id = emu.quota_desk, emu.quota_desk.new_id()
        pending = desk.mode == "pending"
        desk.requests[request_id] = QuotaRequest(
            request_id,
            scope,
            dict(entry["name"]),
            limit["value"],
            "InProgress" if pending else "Succeeded",
        )
        kind = "operationsStatus" if pending else "quotaRequests"
        headers["Location"] = (
            f"{emu.url}{scope}/providers/Microsoft.Quota/{kind}/{request_id}?api-version=2025-09-01"
        )
        if pending:
            return Reply(202, None, {**headers, "Retry-After": "30"})
        _raise_limit(emu, entry["name"]["value"], limit["value"])
        entry["limit"] = limit["value"]
    family = entry["name"]["value"]
    props = {
        "limit": {"limitObjectType": "LimitValue", "value": entry["limit"]},
        "name": dict(entry["name"]),
        "unit": entry.get("unit", "Count"),
        "isQuotaApplicable": True,
    }
    if rec.method == "PUT":
        props["provisioningState"] = "Succeeded"
    body = {
        "id": f"{scope}/providers/Microsoft.Quota/quotas/{family}",
        "type": "Microsoft.Quota/Quotas",
        "name": family,
        "properties": props,
    }
    return Reply(200, body, headers)


def quota_request(emu: AzureEmulator, p: dict[str, str], rec: Recorded) -> Reply:
    location_scope(emu, p)
    request = emu.quota_desk.requests.get(p["id"].lower())
    if request is None:
        raise error(404, "ResourceNotFound", f"no quota request {p['id']}")
    props: dict[str, Any] = {
        "requestSubmitTime": SUBMITTED,
        "provisioningState": request.state,
        "message": request.message or request.state,
        "value": [
            {
                "limit": {"limitObjectType": "LimitValue", "value": request.limit},
                "name": dict(request.family),
                "provisioningState": request.state,
                "message": request.message or request.state,
            }
        ],
    }
    if request.state == "Failed":
        props["error"] = {"code": "ContactSupport", "message": request.message}
    return Reply(
        200,
        {
            "id": f"{request.scope}/providers/Microsoft.Quota/quotaRequests/{request.id}",
            "type": "Microsoft.Quota/quotaRequests",
            "name": request.id,
            "properties": props,
        },
    )


def decide(emu: AzureEmulator, request_id: str, *, granted: bool, message: str = "") -> None:
    """What support does to a pending request: grant it (the limit rises) or fail it."""
    request = emu.quota_desk.requests[request_id]
    request.state = "Succeeded" if granted else "Failed"
    failed = "Request failed, please contact support."
    request.message = message or ("Request processed" if granted else failed)
    if granted:
        _raise_limit(emu, request.family["value"], request.limit)


HANDLERS = {"quota": quota, "quota_request": quota_request}
