"""The objects a loopback Kubernetes API serves: a snapshot directory (DESIGN.md layout) held in
memory, with the API server's behaviour for lists, gets and writes.

Agreement with the offline reader: a built-in kind whose file the snapshot lacks is "not known"
and served as 403 Forbidden; an empty List is served as none; a custom resource whose file is
absent is a CRD that is not installed (404, or `missing_crd_status`). The built-in kinds only
fixes write (`kube_paths.FIX_RESOURCES`: ServiceAccounts, Roles, RoleBindings) are never in a
snapshot and start empty; KAITO InferenceSets, which fixes scale, are served from
`kubernetes/inferencesets.json` when a scenario has one (else their CRD is not installed).
Strategic-merge patches are applied as JSON merge patches (RFC 7386: maps merge, `null`
deletes, lists are replaced); that is exact for the fields fixes touch (replicas, schedules,
tolerations lists, data keys).

Optimistic concurrency as the API server does it: every object has a resourceVersion (the
snapshot's, or one stamped at load), a PATCH/PUT carrying a stale `metadata.resourceVersion`
is 409 Conflict, a DELETE or eviction whose `preconditions` (uid, resourceVersion) do not
match is 409, and creating an existing name is 409 AlreadyExists.
"""

from __future__ import annotations

import base64
import bisect
import copy
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.sources import selectors
from bot.sources.kube_paths import ALL_RESOURCES, FIX_RESOURCES, RESOURCES, Resource
from bot.sources.listorder import api_order, storage_key
from tests.emulators.kube_status import (
    FIELDS,
    ApiError,
    already_exists,
    check_preconditions,
    check_resource_version,
    forbidden,
    kube_meta,
    merge_patch,
    not_found,
    status_doc,
)

Obj = dict[str, Any]
# Kinds with a scale subresource: the built-in ones, and the InferenceSet CRD's
# (`subresources.scale`: specReplicasPath .spec.replicas, statusReplicasPath .status.replicas).
SCALABLE = {"deployments", "statefulsets", "replicasets", "inferencesets"}


class KubeStore:
    def __init__(self, root: Path | str, *, missing_crd_status: int = 404) -> None:
        self.root = Path(root)
        self.missing_crd_status = missing_crd_status
        self.lock = threading.RLock()
        self.objects: dict[str, list[Obj] | None] = {}
        self.served: dict[str, str] = {}  # custom plural -> the version its file was saved at
        self.revision = 1000
        self._by_node: dict[str, list[Obj]] | None = None
        # Indexes a real API server has (etcd keys, the watch cache): objects by name, and a
        # list query's selection kept while its pages are read, so a 150,000-pod list costs
        # O(page) per page and a pod log O(1). Valid while (revision, item count) holds.
        self._names: dict[str, tuple[tuple[int, int], dict[tuple[str | None, str], Obj]]] = {}
        self._chosen: dict[tuple[Any, ...], tuple[tuple[int, int], list[Obj]]] = {}
        for plural, res in ALL_RESOURCES.items():
            path = self.root / "kubernetes" / f"{plural}.json"
            doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
            if doc is None and plural in FIX_RESOURCES and not res.custom:
                doc = {"items": []}  # a cluster always has these kinds; snapshots never do
            for item in (doc or {}).get("items") or []:
                if isinstance(item, dict) and not kube_meta(item).get("resourceVersion"):
                    self._bump(item)  # the API server always serves one
            # etcd lists by storage key, whatever order the fixture file has
            self.objects[plural] = None if doc is None else api_order(doc.get("items") or [])
            if res.custom and doc is not None:
                api_version = str(doc.get("apiVersion") or "")
                items = self.objects[plural] or []
                if items and "/" in str(items[0].get("apiVersion", "")):
                    api_version = str(items[0]["apiVersion"])
                version = api_version.split("/", 1)[-1]
                self.served[plural] = version if version in res.versions else res.versions[0]

    def has(self, folder: str) -> bool:
        return (self.root / "kubernetes" / folder).is_dir()

    # ---- resolution ----------------------------------------------------------------------

    def resolve(self, group: str, version: str, plural: str, ns: str | None, verb: str) -> Resource:
        res = ALL_RESOURCES.get(plural)
        missing = ApiError(404, "NotFound", "the server could not find the requested resource")
        if res is None or res.group != group or version not in res.versions:
            raise missing
        if res.custom:
            if self.objects[plural] is None:
                if self.missing_crd_status == 403:
                    raise forbidden(verb, plural, ns)
                raise missing
            if version != self.served[plural]:
                raise missing
        elif self.objects[plural] is None:
            raise forbidden(verb, plural, ns)
        return res

    def _items(self, res: Resource) -> list[Obj]:
        items = self.objects[res.plural]
        assert items is not None
        return items

    def _bump(self, obj: Obj) -> None:
        self.revision += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.revision)
        self._by_node = None

    # ---- reads ---------------------------------------------------------------------------

    def list(self, res: Resource, ns: str | None, query: dict[str, str]) -> Obj:
        labels, fields = query.get("labelSelector"), query.get("fieldSelector")
        for term in filter(None, (fields or "").split(",")):
            key = re.split(r"!?==?", term, maxsplit=1)[0].strip()
            if key not in FIELDS.get(res.plural, set()) | {"metadata.name", "metadata.namespace"}:
                raise ApiError(400, "BadRequest", f'field label not supported: "{key}"')
        with self.lock:
            stamp = (self.revision, len(self._items(res)))
            selection = (res.plural, ns if res.namespaced else None, labels, fields)
            held = self._chosen.get(selection)
            if held is not None and held[0] == stamp:
                chosen = held[1]
            else:
                try:
                    chosen = selectors.select(
                        self._candidates(res, fields),
                        namespace=ns if res.namespaced else None,
                        label_selector=labels,
                        field_selector=fields,
                    )
                except selectors.SelectorError as exc:
                    raise ApiError(
                        400, "BadRequest", f"unable to parse requirement: {exc}"
                    ) from exc
                self._chosen[selection] = (stamp, chosen)
            revision = str(self.revision)
        start = self._offset(query.get("continue"), ns, labels, fields)
        limit = int(query.get("limit") or 0)
        page = chosen[start : start + limit] if limit else chosen[start:]
        meta: Obj = {"resourceVersion": revision}
        if limit and start + limit < len(chosen):
            key = json.dumps({"o": start + limit, "q": [ns, labels, fields]})
            meta["continue"] = base64.urlsafe_b64encode(key.encode()).decode()
            meta["remainingItemCount"] = len(chosen) - start - limit
        version = self.served.get(res.plural, res.versions[0])
        return {
            "kind": f"{res.kind}List",
            "apiVersion": res.api_version(version),
            "metadata": meta,
            "items": [self._wire(res, o) for o in page],
        }

    def _candidates(self, res: Resource, fields: str | None) -> list[Obj]:
        """An index on spec.nodeName, as the API server's pod field index: per-node lists of a
        10,000-pod cluster must stay cheap."""
        items = self._items(res)
        wanted = [
            t.replace("==", "=").split("=", 1)[1]
            for t in (fields or "").split(",")
            if t.startswith("spec.nodeName=") and "!" not in t
        ]
        if res.plural != "pods" or not wanted:
            return items
        if self._by_node is None:
            self._by_node = {}
            for pod in items:
                self._by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(
                    pod
                )
        return self._by_node.get(wanted[0].strip(), [])

    @staticmethod
    def _offset(token: str | None, ns: str | None, labels: str | None, fields: str | None) -> int:
        if not token:
            return 0
        try:
            doc = json.loads(base64.urlsafe_b64decode(token.encode()))
            if doc["q"] == [ns, labels, fields]:
                return int(doc["o"])
        except (ValueError, KeyError, TypeError):
            pass
        raise ApiError(400, "BadRequest", "continue key is not valid for this request")

    @staticmethod
    def _wire(res: Resource, obj: Obj) -> Obj:
        """Built-in list items come without kind/apiVersion from a real API server."""
        if res.custom:
            return obj
        return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}

    def find(self, res: Resource, ns: str | None, name: str) -> Obj:
        items = self._items(res)
        stamp = (self.revision, len(items))
        held = self._names.get(res.plural)
        if held is None or held[0] != stamp:
            index: dict[tuple[str | None, str], Obj] = {}
            for obj in items:
                meta = obj.get("metadata") or {}
                key = (meta.get("namespace") if res.namespaced else None, meta.get("name"))
                index.setdefault(key, obj)  # the first match, as a scan in list order finds
            held = (stamp, index)
            self._names[res.plural] = held
        obj = held[1].get((ns if res.namespaced else None, name))
        if obj is None:
            raise not_found(res.plural, name)
        return obj

    def get(self, res: Resource, ns: str | None, name: str) -> Obj:
        with self.lock:
            obj = copy.deepcopy(self.find(res, ns, name))
        version = self.served.get(res.plural, res.versions[0])
        return {"apiVersion": res.api_version(version), "kind": res.kind, **obj}

    # ---- writes --------------------------------------------------------------------------

    def create(self, res: Resource, ns: str | None, body: Obj) -> Obj:
        body = copy.deepcopy(body)  # the recorded request stays as the client sent it
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{res.kind}.metadata.name: Required value")
        with self.lock:
            try:
                self.find(res, ns, name)
            except ApiError:
                pass
            else:
                raise already_exists(res, name)
            if res.namespaced:
                meta["namespace"] = ns
            meta.pop("resourceVersion", None)  # the server assigns it
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._bump(body)
            bisect.insort(self._items(res), body, key=storage_key)
        return self.get(res, ns, name)

    def patch(self, res: Resource, ns: str | None, name: str, patch: Any) -> Obj:
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        with self.lock:
            obj = self.find(res, ns, name)
            check_resource_version(res, obj, patch)
            merged = merge_patch(obj, patch)
            obj.clear()
            obj.update(merged)
            self._bump(obj)
        return self.get(res, ns, name)

    def replace(self, res: Resource, ns: str | None, name: str, body: Any) -> Obj:
        """PUT: the whole object; identity (uid, creationTimestamp) stays the server's."""
        if not isinstance(body, dict) or kube_meta(body).get("name") != name:
            raise ApiError(400, "BadRequest", "the name in the body does not match the URL")
        with self.lock:
            obj = self.find(res, ns, name)
            check_resource_version(res, obj, body)
            kept = {
                k: kube_meta(obj)[k]
                for k in ("uid", "creationTimestamp", "namespace")
                if k in kube_meta(obj)
            }
            replaced = {
                k: v for k, v in copy.deepcopy(body).items() if k not in ("kind", "apiVersion")
            }
            replaced["metadata"] = {**kube_meta(replaced), **kept}
            obj.clear()
            obj.update(replaced)
            self._bump(obj)
        return self.get(res, ns, name)

    def delete(self, res: Resource, ns: str | None, name: str, options: Any = None) -> Obj:
        with self.lock:
            obj = self.find(res, ns, name)
            check_preconditions(res, obj, options)
            gone = self.get(res, ns, name)
            self._items(res).remove(obj)
            self._by_node = None
        if res.plural == "pods":  # the pod registry answers with the deleted object
            return gone
        return status_doc(200, "", f'{res.plural} "{name}" deleted') | {"status": "Success"}

    def scale(self, res: Resource, ns: str | None, name: str, body: Obj | None) -> Obj:
        if res.plural not in SCALABLE:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with self.lock:
            obj = self.find(res, ns, name)
            if body is not None:
                check_resource_version(res, obj, body)
                replicas = (body.get("spec") or {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise ApiError(422, "Invalid", "spec.replicas: must be a non-negative integer")
                obj.setdefault("spec", {})["replicas"] = replicas
                self._bump(obj)
            spec, status = obj.get("spec") or {}, obj.get("status") or {}
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": kube_meta(obj).get("uid"),
                    "resourceVersion": kube_meta(obj).get("resourceVersion"),
                },
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": status.get("replicas", 0)},
            }

    def evict(self, ns: str, name: str, body: Any = None) -> Obj:
        pods = RESOURCES["pods"]
        with self.lock:
            pod = self.find(pods, ns, name)
            check_preconditions(pods, pod, (body or {}).get("deleteOptions"))
            labels = kube_meta(pod).get("labels") or {}
            for pdb in self.objects.get("poddisruptionbudgets") or []:
                if kube_meta(pdb).get("namespace") != ns:
                    continue
                match = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                if all(labels.get(k) == v for k, v in match.items()) and (
                    (pdb.get("status") or {}).get("disruptionsAllowed", 1) <= 0
                ):
                    raise ApiError(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        {"Retry-After": "10"},
                    )
            self._items(pods).remove(pod)
            self._by_node = None
        return status_doc(201, "", "") | {"status": "Success"}
