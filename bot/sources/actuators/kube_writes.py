"""What every Kubernetes actuator shares: its params, its state, and one write at a time.

A write goes through the official client's generated method with `_preload_content=False` and
a JSON merge patch where it patches (exactly what the emulator and the API server agree on).
Its failures become one line: 409 (a stale resourceVersion, a uid precondition, a name taken
since the plan) and 404 (gone since the plan) are `FixConflict`; anything else, including a
PodDisruptionBudget's 429, is `FixFailed`. Each line says what was already written by this
apply, so a half-done multi-object apply is never reported as "nothing changed".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

import urllib3
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ValidationError

from bot.model import kube
from bot.model.fixes import FIXES
from bot.model.plans import FixConflict, FixFailed, FixRefused
from bot.sources.actuators.context import FixContext, KubeState
from bot.sources.kube_http import status_message, transport_reason

Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = (5.0, 30.0)  # connect, read: a write is one small request
MANAGED_BY = "app.kubernetes.io/managed-by"
GPUBOT_LABELS = {MANAGED_BY: "gpubot"}


def typed_params(fix: str, params: Any) -> Any:
    """The catalogue's params model for this fix, from a dict or the model itself."""
    model: type[BaseModel] = FIXES[fix].params
    if isinstance(params, model):
        return params
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        raise FixRefused(f"{fix}: bad parameter {where}: {first['msg']}") from None


def kube_state(ctx: FixContext) -> KubeState:
    if ctx.kube_state is None:
        raise FixRefused(f"cannot read the cluster: {ctx.read_only_reason or 'no Kubernetes'}")
    return ctx.kube_state


def target_key(fix: str, cluster: str, namespace: str, kind: str, name: str) -> str:
    """Stable and specific: one cooldown per fix and object, e.g.
    `prewarm-now/aks-inference/default/statefulset/workspace-llama`."""
    return f"{fix}/{cluster}/{namespace}/{kind.lower()}/{name}"


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller: true (the one that reconciles this object)."""
    for ref in kube.meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


class Writer:
    """The writes of one apply, in order, as `ApplyResult.written` lines."""

    def __init__(self, ctx: FixContext) -> None:
        if ctx.kube_api is None:
            reason = ctx.read_only_reason or "Kubernetes is not configured"
            raise FixRefused(f"cannot write to the cluster: {reason}")
        self.api = ctx.kube_api
        self.written: list[str] = []
        self.last: Obj = {}  # the body of the last successful write

    def call(
        self, line: str, request: Callable[..., Any], explain: dict[int, str] | None = None
    ) -> Obj:
        """Run `request(**kw)` (a generated client method, kw = raw response + timeout).
        `explain` puts a plain reason before the API's own message for a status."""
        failed = self.attempt(line, request, explain)
        if failed is not None:
            status, message = failed
            self._fail(line, status, message)
        return self.last

    def attempt(
        self, line: str, request: Callable[..., Any], explain: dict[int, str] | None = None
    ) -> tuple[int | None, str] | None:
        """Like `call`, but a failure is returned as (status, message) instead of raised."""
        try:
            response = request(_preload_content=False, _request_timeout=TIMEOUT)
            body = bytes(response.data)
        except ApiException as exc:
            message = status_message(exc.status, exc.reason, exc.body)
            if exc.status in (explain or {}):
                message = f"{(explain or {})[exc.status]} ({message})"
            return exc.status, message
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # The request may have reached the server: say so rather than guess.
            reason = transport_reason(exc, TIMEOUT[1])
            return None, f"{reason} (it may or may not have been applied)"
        self.written.append(line)
        try:
            doc = json.loads(body) if body else {}
        except ValueError:
            doc = {}
        self.last = doc if isinstance(doc, dict) else {}
        return None

    def _fail(self, line: str, status: int | None, message: str) -> NoReturn:
        if status == 409:
            raise FixConflict(f"{line}: changed since the plan ({message}){self._so_far()}")
        if status == 404:
            raise FixConflict(f"{line}: gone since the plan ({message}){self._so_far()}")
        raise FixFailed(f"{line}: {message}{self._so_far()}")

    def _so_far(self) -> str:
        if not self.written:
            return "; nothing was written"
        return "; already written: " + ", ".join(self.written)
