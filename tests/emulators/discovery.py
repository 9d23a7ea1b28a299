"""API discovery documents for the emulated server: enough for clients that discover
(`kubectl`, the dynamic client) to find the built-in kinds and the CRDs the snapshot holds."""

from __future__ import annotations

from typing import Any

from bot.sources.kube_paths import ALL_RESOURCES, Resource
from tests.emulators.kube_store import KubeStore

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "patch", "update"]
SUBRESOURCES = {
    "pods": ["log", "proxy", "eviction"],
    "services": ["proxy"],
    "deployments": ["scale"],
    "statefulsets": ["scale"],
    "replicasets": ["scale"],
    "inferencesets": ["scale"],
}


def _served(store: KubeStore) -> dict[tuple[str, str], list[Resource]]:
    """(group, version) -> resources served there; a CRD only if its file is in the snapshot."""
    out: dict[tuple[str, str], list[Resource]] = {}
    for res in ALL_RESOURCES.values():
        if res.custom:
            if store.objects.get(res.plural) is None:
                continue
            version = store.served[res.plural]
        else:
            version = res.versions[0]
        out.setdefault((res.group, version), []).append(res)
    return out


def _resource_list(group_version: str, resources: list[Resource]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for res in resources:
        entries.append(
            {
                "name": res.plural,
                "singularName": res.kind.lower(),
                "namespaced": res.namespaced,
                "kind": res.kind,
                "verbs": READ + WRITE,
            }
        )
        for sub in SUBRESOURCES.get(res.plural, []):
            kind = "Scale" if sub == "scale" else res.kind
            entries.append(
                {
                    "name": f"{res.plural}/{sub}",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": kind,
                    "verbs": ["get", "create"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


def discovery(store: KubeStore, parts: list[str], url: str) -> dict[str, Any] | None:
    """The discovery document for a path, or None when the path is not a discovery path."""
    served = _served(store)
    if parts == ["version"]:
        return {"major": "1", "minor": "31", "gitVersion": "v1.31.3", "platform": "linux/amd64"}
    if parts == ["api"]:
        address = url.removeprefix("http://")
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }
    if parts == ["api", "v1"]:
        return _resource_list("v1", served[("", "v1")])
    if parts == ["apis"]:
        groups = []
        for group, version in sorted(k for k in served if k[0]):
            gv = {"groupVersion": f"{group}/{version}", "version": version}
            groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in served:
        return _resource_list(f"{parts[1]}/{parts[2]}", served[(parts[1], parts[2])])
    return None
