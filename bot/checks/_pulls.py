"""Reading kubelet pull messages (row 14) and Go's duration text (`7m12.513s`), which kubelet
and the cluster autoscaler both write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
# Longer units first so "350ms" is not read as 350 minutes and a stray "s".
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_go_duration(text: object) -> timedelta | None:
    """Go's time.Duration text (`7m12.513s`, `1h2m3.5s`, `350ms`); a bare number is seconds,
    as AKS writes `max-graceful-termination-sec`. None when it is not a duration."""
    value = str(text or "").strip()
    if _BARE_NUMBER.fullmatch(value):
        return timedelta(seconds=float(value))
    total, pos = 0.0, 0
    for part in _GO_PART.finditer(value):
        if part.start() != pos:
            return None
        total += float(part.group(1)) * _GO_UNITS[part.group(2)]
        pos = part.end()
    return timedelta(seconds=total) if value and pos == len(value) else None


_PULLED = re.compile(
    r'Successfully pulled image "(?P<image>[^"]+)" in (?P<pull>[0-9a-zµμ.]+)'
    r"(?: \((?P<total>[0-9a-zµμ.]+) including waiting\))?"
    r"(?:\. Image size: (?P<size>\d+) bytes)?"
)
_PULLING = re.compile(r'Pulling image "(?P<image>[^"]+)"')


@dataclass(frozen=True)
class Pull:
    image: str
    pull: timedelta  # the pull itself
    total: timedelta  # including time queued behind other pulls (kubelet >= 1.28)
    size_bytes: int | None
    pull_text: str = ""  # as kubelet wrote it, e.g. "7m12.513s"
    total_text: str = ""


def parse_pulled(message: str) -> Pull | None:
    """A kubelet `Pulled` message -> Pull; None for `already present on machine` and others."""
    match = _PULLED.search(message or "")
    if match is None:
        return None
    pull = parse_go_duration(match.group("pull"))
    if pull is None:
        return None
    total = parse_go_duration(match.group("total")) if match.group("total") else None
    size = match.group("size")
    return Pull(
        match.group("image"),
        pull,
        max(total or pull, pull),
        int(size) if size else None,
        match.group("pull"),
        match.group("total") or match.group("pull"),
    )


def pulling_image(message: str) -> str | None:
    match = _PULLING.search(message or "")
    return match.group("image") if match else None


def registry_host(image: str) -> str:
    """`mlmodels.azurecr.io/llama:1` -> `mlmodels.azurecr.io`; `vllm/vllm-openai` -> docker.io."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def gigabytes(size_bytes: int) -> str:
    return f"{size_bytes / 1e9:.1f} GB"
