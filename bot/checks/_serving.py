"""Shared reading for row 8: which port a model server listens on, and what is wrong with
a workspace's `inference.config` (KAITO turns its `vllm:` section into vLLM arguments)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import yaml

from bot.model import kube
from bot.model.context import CheckContext
from bot.model.text import clip, duration, parse_time

Obj = dict[str, Any]
CONFIG_KEY = "inference_config.yaml"

# ---- ports -------------------------------------------------------------------------------

_LISTEN = re.compile(
    r"(?:Uvicorn running on|Starting vLLM API server(?: \d+)? on) https?://[^:\s]+:(\d+)"
    r"|inference_api\.py:\d+\] Starting server on port (\d+)"
)
_PORT_ARG = re.compile(r"^--port(?:=(\d+))?$")


def listen_port(text: str | None) -> int | None:
    """The last port the server said it listens on (`Uvicorn running on http://0.0.0.0:5000`)."""
    found = [a or b for a, b in _LISTEN.findall(text or "")]
    return int(found[-1]) if found else None


def arg_port(container: Obj) -> int | None:
    """`--port=5000` or `--port 5000` in the container's command or args."""
    words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    words = [p for w in words for p in w.split()]  # `sh -c "... --port 5000"` splits too
    for i, word in enumerate(words):
        match = _PORT_ARG.match(word)
        if match and match.group(1):
            return int(match.group(1))
        if match and i + 1 < len(words) and words[i + 1].isdigit():
            return int(words[i + 1])
    return None


def resolve_port(port: Any, container: Obj) -> int | str:
    """A probe's or Service's port: a number, or a name looked up in the container's ports.

    An unknown name stays a string: the kubelet cannot probe it either.
    """
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared.get("containerPort"))
    return str(port)


def probes(container: Obj) -> list[tuple[str, Any, str]]:
    """(kind, port, path) of the container's readiness/liveness/startup probes."""
    out = []
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(kind) or {}
        for handler in ("httpGet", "tcpSocket", "grpc"):
            if handler in probe:
                out.append(
                    (
                        kind.removesuffix("Probe"),
                        probe[handler].get("port"),
                        str(probe[handler].get("path", "")),
                    )
                )
    return out


# ---- crash signs -------------------------------------------------------------------------


def recent_termination(pod: Obj, ctx: CheckContext) -> Obj | None:
    """The pod's last container termination if it finished within the lookback."""
    window = ctx.now - ctx.thresholds.lookback
    recent = [
        t
        for t in kube.last_termination(pod)
        if (when := parse_time(t.get("finishedAt"))) is not None and window <= when <= ctx.now
    ]
    return max(recent, key=lambda t: str(t.get("finishedAt")), default=None)


def crashing(pod: Obj, ctx: CheckContext) -> bool:
    return (
        kube.waiting_reason(pod) == "CrashLoopBackOff" or recent_termination(pod, ctx) is not None
    )


# ---- inference.config --------------------------------------------------------------------

# Common vLLM engine/server arguments, to spot a near-miss key (a typo) in `vllm:`.
# fmt: off
_KNOWN_ARGS = (
    "model", "tokenizer", "revision", "served-model-name", "max-model-len",
    "gpu-memory-utilization", "swap-space", "cpu-offload-gb", "tensor-parallel-size",
    "pipeline-parallel-size", "data-parallel-size", "dtype", "quantization", "max-num-seqs",
    "max-num-batched-tokens", "enable-chunked-prefill", "enable-prefix-caching",
    "max-seq-len-to-capture", "num-scheduler-steps", "kv-cache-dtype", "block-size", "seed",
    "trust-remote-code", "enforce-eager", "disable-log-stats", "disable-log-requests",
    "enable-lora", "max-lora-rank", "max-loras", "chat-template", "tool-call-parser",
    "enable-auto-tool-choice", "guided-decoding-backend", "distributed-executor-backend",
    "rope-scaling", "download-dir", "load-format", "limit-mm-per-prompt", "max-logprobs", "port",
    "host", "uvicorn-log-level", "kv-transfer-config", "speculative-config", "reasoning-parser",
    "enable-reasoning", "compilation-config", "mm-processor-kwargs", "tokenizer-mode",
    "max-cpu-loras", "disable-custom-all-reduce", "enable-expert-parallel", "hf-overrides",
)
# fmt: on
KNOWN_ARGS = frozenset(_KNOWN_ARGS)


def _number(
    low: float, high: float | None = None, *, integer: bool = False
) -> Callable[[Any], bool]:
    def ok(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if integer and not isinstance(value, int):
            return False
        return value >= low and (high is None or value <= high)

    return ok


def _max_len(value: Any) -> bool:
    # vLLM takes an int; newer releases also read `32k`-style strings.
    return _number(1, integer=True)(value) or bool(re.fullmatch(r"\d+[kKmM]?", str(value)))


VALIDATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "gpu-memory-utilization": (lambda v: _number(0, 1)(v) and v > 0, "a fraction in (0, 1]"),
    "max-model-len": (_max_len, "a positive integer"),
    "tensor-parallel-size": (_number(1, integer=True), "a positive integer"),
    "pipeline-parallel-size": (_number(1, integer=True), "a positive integer"),
    "max-num-seqs": (_number(1, integer=True), "a positive integer"),
    "max-num-batched-tokens": (_number(1, integer=True), "a positive integer"),
    "swap-space": (_number(0), "a number of GiB >= 0"),
    "cpu-offload-gb": (_number(0), "a number of GiB >= 0"),
    "dtype": (
        lambda v: v in {"auto", "half", "float16", "bfloat16", "float", "float32"},
        "auto, half, float16, bfloat16, float or float32",
    ),
    "enable-chunked-prefill": (lambda v: isinstance(v, bool), "true or false"),
    "enable-prefix-caching": (lambda v: isinstance(v, bool), "true or false"),
    "enforce-eager": (lambda v: isinstance(v, bool), "true or false"),
    "trust-remote-code": (lambda v: isinstance(v, bool), "true or false"),
}


def config_problems(text: str) -> list[str]:
    """What is wrong with an `inference_config.yaml` body ([] = nothing gpubot can see)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return [f"{CONFIG_KEY} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"]
    vllm = doc.get("vllm") if isinstance(doc, dict) else None
    if not isinstance(vllm, dict):
        return [f"{CONFIG_KEY} has no `vllm:` mapping, so KAITO passes vLLM none of its settings"]
    problems = []
    for raw, value in vllm.items():
        key = str(raw).replace("_", "-")
        if key not in KNOWN_ARGS:
            close = difflib.get_close_matches(key, _KNOWN_ARGS, n=1, cutoff=0.85)
            if close:
                problems.append(
                    f"vllm.{raw}: {value!r} is not a vLLM argument (did you mean {close[0]}?)"
                )
            continue
        validator = VALIDATORS.get(key)
        if validator and not validator[0](value):
            problems.append(f"vllm.{raw}: {value!r} is invalid (expected {validator[1]})")
    return problems


# Lines a crashed server prints when its arguments or config are wrong. A ValueError about
# memory or the KV cache is a sizing problem (rows 5/6), not a bad config, so it is skipped.
_ARG_ERRORS = (
    re.compile(r"error: unrecognized arguments: .+"),
    re.compile(r"error: argument --[\w-]+(?:/[-\w]+)?: .+"),
    re.compile(r"(?:yaml\.\w+\.)?(?:ScannerError|ParserError|ComposerError): .+"),
    re.compile(r"KeyError: '(?:vllm|[\w-]+-[\w-]+)'"),
    re.compile(r"ValueError: .+"),
)
_SIZING = ("kv cache", "cache blocks", "out of memory", "cuda")


def config_errors(text: str | None) -> list[str]:
    """Argument / config error lines in a server log, clipped, in order, deduplicated."""
    out: list[str] = []
    for line in (text or "").splitlines():
        for pattern in _ARG_ERRORS:
            match = pattern.search(line)
            if match is None:
                continue
            if match.group(0).startswith("ValueError") and any(w in line.lower() for w in _SIZING):
                break
            found = line.strip()  # the whole line: it names the program that failed
            if clip(found) not in out:
                out.append(clip(found))
            break
    return out


def pod_logs(logs: Iterable[Obj] | None, pod: Obj) -> list[Obj]:
    return [
        entry
        for entry in logs or []
        if entry.get("namespace") == kube.namespace(pod) and entry.get("pod") == kube.name(pod)
    ]


def workspace_pods(ws: Obj, pods: Iterable[Obj]) -> list[Obj]:
    return [
        p
        for p in pods
        if kube.namespace(p) == kube.namespace(ws) and kube.workspace_of(p) == kube.name(ws)
    ]


def when_text(value: datetime | None, now: datetime) -> str:
    return f"{duration(now - value)} ago" if value else "at an unknown time"
