"""Reading the objects a Kubernetes fix touches, live or from a snapshot (`KubeState`).

`LiveKubeState` asks the API server through the official client's generated methods with
`_preload_content=False` (as `bot.sources.kube` does), so objects arrive as the API's own JSON,
the same shape a snapshot holds. `SnapshotKubeState` answers from a `SnapshotSource`: a plan can
be shown with no cluster at all. A read that fails is a `FixFailed` (live) or `FixRefused`
(snapshot file missing) with one line: a plan is never computed from a guess.
"""

from __future__ import annotations

from typing import Any

from bot.model import kube
from bot.model.evidence import Question
from bot.model.plans import FixFailed, FixRefused
from bot.sources import kube_paths
from bot.sources.kube import KubeSource
from bot.sources.kube_http import CallFailed, parse_json
from bot.sources.kube_paths import ALL_RESOURCES, FIX_RESOURCES, RESOURCES, Resource

Obj = dict[str, Any]


def _resource(plural: str) -> Resource:
    res = ALL_RESOURCES.get(plural)
    if res is None:
        raise FixRefused(f"gpubot does not read or write {plural}")
    return res


class LiveKubeState:
    def __init__(self, api_client: Any, *, timeout: float = 10.0) -> None:
        self.api = api_client
        # Lists reuse the evidence reader: paging, retries on 429/503, CRD version fallback.
        self.reader = KubeSource(api_client, timeout=timeout)

    def get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        """One object, read as a one-name list (fieldSelector metadata.name): the read role
        grants `list` on every evidence kind, not `get`, and list items carry the same
        resourceVersion and uid a GET returns."""
        res = _resource(plural)
        ns = namespace if res.namespaced else None
        for version in res.versions:
            try:
                body, _ = self.reader.caller.read(
                    lambda timeout, version=version: kube_paths.list_page(
                        self.api,
                        res,
                        version,
                        namespace=ns,
                        label_selector=None,
                        field_selector=f"metadata.name={name}",
                        limit=2,
                        token=None,
                        timeout=timeout,
                    )
                )
                doc = parse_json(body, f"{res.kind} {_ref(ns, name)}")
            except CallFailed as exc:
                # A custom resource may be served at another version (or not installed).
                if exc.status == 404 and res.custom:
                    continue
                raise FixFailed(
                    f"reading {res.kind} {_ref(ns, name)} failed: {exc.reason}"
                ) from None
            items = kube_paths.typed_items(doc, res, version) if isinstance(doc, dict) else []
            return next((o for o in items if kube.name(o) == name), None)
        return None

    def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Obj]:
        if plural not in RESOURCES:
            raise FixRefused(f"gpubot reads {plural} one by one, never as a list")
        try:
            return self.reader.list(plural, namespace=namespace, label_selector=label_selector)
        except CallFailed as exc:
            raise FixFailed(f"listing {plural} failed: {exc.reason}") from None


class SnapshotKubeState:
    """Objects as a snapshot holds them (kubectl's `get -o json` of the whole kind)."""

    def __init__(self, snapshot_source: Any) -> None:
        self.source = snapshot_source

    def get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        res = _resource(plural)
        ns = namespace if res.namespaced else None
        found = [o for o in self.list(plural, ns) if kube.name(o) == name]
        return found[0] if found else None

    def list(
        self, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Obj]:
        res = _resource(plural)
        if res.plural in FIX_RESOURCES and not res.custom:
            # gpubot's own pre-warm RBAC: `collect` never writes these kinds, and a plan from
            # a snapshot is never applied, so plan as if gpubot's objects were absent.
            return []
        # Everything else, InferenceSets included, is the cluster's: only a snapshot that
        # holds the file can say what is there (a missing file refuses the plan below).
        params: dict[str, Any] = {"resource": plural, "namespace": namespace}
        if label_selector:
            params["label_selector"] = label_selector
        answer = self.source.answer(Question.of("kubernetes.list", params))
        if not answer.available:
            raise FixRefused(f"cannot plan from this snapshot: {answer.unavailable}")
        return list(answer.data)


def _ref(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
