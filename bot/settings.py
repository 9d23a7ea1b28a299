"""Live configuration (DESIGN.md "Live configuration (contract)") and the live endpoint settings.

The file is named by `--config FILE` or `GPUBOT_CONFIG`. It holds `clusters:` (the keys of
snapshot.yaml's `cluster:` block plus `kube_context`), `thresholds:` and blocks later features
own (`slack:`, `fixes:`). Unknown keys are errors naming file:line, so a typo never silently
falls back to a default. Environment variables override the file (pydantic-settings):

    GPUBOT_THRESHOLDS__STUCK_MINUTES=15       nested keys joined by `__`
    GPUBOT_CLUSTERS__0__LOCATION=westus3      list entries by index
    GPUBOT_CLUSTERS='[{"name": "aks-a"}]'     a whole value as JSON

Endpoints, the CA bundle, a static token and the clock come only from the environment
(`LiveEnv`), as the contract's table names them.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.model.fixpolicy import FixPolicy
from bot.model.text import parse_time
from bot.model.thresholds import Thresholds
from bot.slack.settings import SlackConfig
from bot.sources.base import BadInput, ClusterInfo

AKS_USER = "aks-user"  # kube_context value: fetch the cluster's user kubeconfig through ARM


class ConfigError(BadInput):
    """The configuration cannot be used; the message names file:line where it can."""


class ClusterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="the managed cluster's ARM name")
    subscription_id: str | None = None
    resource_group: str | None = None
    location: str | None = None
    log_analytics_workspace_id: str | None = None
    kube_context: str | None = Field(
        None, description="kubeconfig context; absent = current/in-cluster; aks-user = via ARM"
    )

    def info(self) -> ClusterInfo:
        return ClusterInfo(
            name=self.name,
            location=self.location,
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            log_analytics_workspace_id=self.log_analytics_workspace_id,
        )


class _FileThenEnv(PydanticBaseSettingsSource):
    """The file's data (passed as init kwargs) with the environment merged over it.

    pydantic-settings would rank init kwargs above the environment and replace lists whole;
    the contract wants the environment to win, down to one list entry.
    """

    def __init__(self, settings_cls: type[BaseSettings], file_data: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.file_data = file_data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = EnvSettingsSource(self.settings_cls)()
        return _merge(self.file_data(), env)  # type: ignore[no-any-return]


def _merge(base: Any, over: Any) -> Any:
    """Deep merge; a dict with numeric keys over a list updates those list entries."""
    if isinstance(base, list) and isinstance(over, dict) and all(k.isdigit() for k in over):
        merged = list(base)
        for key, value in over.items():
            index = int(key)
            if index >= len(merged):
                raise ConfigError(f"environment names list entry {index}, only {len(merged)} exist")
            merged[index] = _merge(merged[index], value)
        return merged
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GPUBOT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    clusters: list[ClusterConfig] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    fixes: FixPolicy = Field(default_factory=FixPolicy)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (_FileThenEnv(settings_cls, init_settings),)

    @field_validator("clusters")
    @classmethod
    def _unique(cls, clusters: list[ClusterConfig]) -> list[ClusterConfig]:
        seen = [c.name for c in clusters]
        if dupes := sorted({n for n in seen if seen.count(n) > 1}):
            raise ValueError(f"cluster name {dupes[0]!r} appears more than once")
        return clusters

    def cluster(self, name: str | None = None) -> ClusterConfig:
        names = ", ".join(c.name for c in self.clusters) or "none"
        if name is None:
            if len(self.clusters) == 1:
                return self.clusters[0]
            if not self.clusters:
                raise ConfigError("no clusters configured (add a clusters: entry)")
            raise ConfigError(f"several clusters configured ({names}): pick one with --cluster")
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise ConfigError(f"unknown cluster {name!r} (configured: {names})")


def load_config(
    path: str | os.PathLike[str] | None = None, *, require_clusters: bool = True
) -> Config:
    """Read `path` (else $GPUBOT_CONFIG), apply environment overrides, validate strictly."""
    chosen = path or os.environ.get("GPUBOT_CONFIG") or None
    data: dict[str, Any] = {}
    root = None
    if chosen is not None:
        data, root = _read_yaml(Path(chosen))
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, chosen, root)) from None
    if require_clusters and not config.clusters:
        where = f"{chosen}: " if chosen else ""
        raise ConfigError(
            f"{where}no clusters configured (pass --config FILE or set GPUBOT_CONFIG; "
            "the file needs a clusters: list)"
        )
    return config


def _read_yaml(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping with a clusters: list")
    return data, root


def _line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at `loc` (deepest one found)."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _explain(exc: ValidationError, path: str | os.PathLike[str] | None, root: Any) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(map(str, loc)) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        env_name = "GPUBOT_" + "__".join(map(str, loc)).upper()
        line = _line(root, loc) if root is not None else None
        if env_name in os.environ:
            lines.append(f"environment {env_name}: {msg}")
        elif line is not None and path is not None:
            lines.append(f"{path}:{line}: {dotted}: {msg}")
        else:
            lines.append(f"{path or 'configuration'}: {dotted}: {msg}")
    return "; ".join(lines)


class LiveEnv(BaseSettings):
    """The contract's endpoint overrides and clock, from the environment only."""

    model_config = SettingsConfigDict(env_prefix="GPUBOT_", extra="ignore", frozen=True)

    arm_endpoint: str = "https://management.azure.com"
    logs_endpoint: str = "https://api.loganalytics.io/v1"
    ca_bundle: Path | None = None
    azure_token: SecretStr | None = None
    now: datetime | None = None

    @field_validator("now", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if value in (None, ""):
            return None
        parsed = parse_time(value)
        if parsed is None:
            raise ValueError(f"GPUBOT_NOW must be an RFC 3339 time, got {value!r}")
        return parsed

    @field_validator("ca_bundle")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"GPUBOT_CA_BUNDLE {value}: no such file")
        return value


def live_env() -> LiveEnv:
    try:
        return LiveEnv()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"GPUBOT_{str(err['loc'][0]).upper()}: {err['msg']}") from None
