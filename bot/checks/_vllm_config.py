"""Reading a KAITO workspace's vLLM inference config: its ConfigMap, the pod's args, and the
cap-max-model-len offer built from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.model import inference_config, kube

Obj = dict[str, Any]

DEFAULT_MAX_NUM_SEQS = 256  # vLLM's default --max-num-seqs


def vllm_config(configmap: Obj | None) -> Obj | None:
    """The `vllm:` section of a KAITO inference ConfigMap (YAML inside a string), or None."""
    text = ((configmap or {}).get("data") or {}).get(inference_config.KEY)
    return inference_config.vllm_section(text) if text else None


def config_int(section: Obj | None, key: str) -> int | None:
    value = (section or {}).get(key)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def arg_int(pod: Obj, flag: str) -> int | None:
    """`--flag=N` or `--flag N` among the pod's container args/command."""
    for c in kube.containers(pod):
        words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        for i, word in enumerate(words):
            value = (
                word.split("=", 1)[1]
                if word.startswith(flag + "=")
                else (words[i + 1] if word == flag and i + 1 < len(words) else None)
            )
            if value is not None and value.isdigit():
                return int(value)
    return None


def halve_context(current: int) -> int:
    """Half the context, floored to vLLM's 256-token granularity, never below 256."""
    return max(256, (current // 2) // 256 * 256)


@dataclass(frozen=True)
class WorkspaceConfig:
    namespace: str
    workspace: str
    configmap: str | None
    section: Obj | None  # the vllm: section, None if the ConfigMap is missing or unreadable
    text: str | None = None  # the ConfigMap's inference_config.yaml as written
    controller: str | None = None  # "Kind name" of a controller owning the ConfigMap


def workspace_config(
    pod: Obj, workspaces: list[Obj] | None, configmaps: list[Obj] | None
) -> WorkspaceConfig | None:
    """The KAITO workspace serving this pod and its inference ConfigMap, when readable."""
    name = kube.workspace_of(pod)
    if not name or workspaces is None:
        return None
    ws = next(
        (
            w
            for w in workspaces
            if kube.name(w) == name and kube.namespace(w) == kube.namespace(pod)
        ),
        None,
    )
    if ws is None:
        return None
    cm_name = (ws.get("inference") or {}).get("config")
    cm = next(
        (
            c
            for c in configmaps or []
            if kube.name(c) == cm_name and kube.namespace(c) == kube.namespace(ws)
        ),
        None,
    )
    owner = kube.owner_kind(cm) if cm is not None else None
    return WorkspaceConfig(
        kube.namespace(ws),
        name,
        cm_name,
        vllm_config(cm),
        ((cm or {}).get("data") or {}).get(inference_config.KEY),
        f"{owner} {kube.owner_name(cm)}" if cm is not None and owner else None,
    )


def cap_offer(cfg: WorkspaceConfig) -> tuple[Obj | None, str]:
    """Params for the cap-max-model-len fix, or None and why it cannot be offered."""
    if not cfg.configmap:
        return (
            None,
            f"workspace {cfg.namespace}/{cfg.workspace} has no inference.config ConfigMap to edit",
        )
    where = f"ConfigMap {cfg.namespace}/{cfg.configmap}"
    if cfg.controller:
        return None, f"{where} is managed by {cfg.controller}: it would put its own value back"
    current = inference_config.max_model_len(cfg.text)
    if current is None:
        return None, f"{where} sets no max-model-len (or was not readable)"
    new = halve_context(current)
    if new >= current:
        return None, f"{where}: max-model-len {current} is already at the 256-token floor"
    try:
        # The actuator edits the one line in place: offer only what it can edit.
        inference_config.edit_max_model_len(cfg.text or "", new)
    except inference_config.NotEditable as exc:
        return None, f"{where}: {exc}"
    params = {
        "namespace": cfg.namespace,
        "configmap": cfg.configmap,
        "workspace": cfg.workspace,
        "current": current,
        "new_max_model_len": new,
    }
    return params, f"{where}: max-model-len {current}"
