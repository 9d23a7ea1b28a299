"""Slack settings: the `slack:` section of the configuration file plus Bolt's own env names."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_API_URL = "https://slack.com/api/"


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(
        default_factory=list, description="channel ids that may run /gpu (empty: any)"
    )
    incident_channels: list[str] = Field(
        default_factory=list,
        description="channel ids whose alert posts are triaged (empty: every invited channel)",
    )
    alert_channel: str | None = Field(
        default=None, description="where /alerts/* webhook triage is posted"
    )
    morning_channel: str | None = Field(
        default=None, description="where the scheduled morning report goes"
    )
    owner_groups: dict[str, str] = Field(
        default_factory=dict,
        description="owner layer (quota, node-pool, driver, kaito, inference, cost) -> group id",
    )
    workers: int = Field(4, ge=1, le=32, description="diagnoses run at once")
    queue: int = Field(8, ge=0, le=256, description="diagnoses waiting for a worker before 'busy'")
    snooze_hours: float = Field(4, gt=0, le=168)


class SlackEnv(BaseModel):
    bot_token: str | None
    signing_secret: str | None
    app_token: str | None
    api_url: str
    webhook_secret: str | None

    @classmethod
    def from_environ(cls, environ: dict[str, Any] | None = None) -> SlackEnv:
        env = os.environ if environ is None else environ
        url = env.get("GPUBOT_SLACK_API_URL") or DEFAULT_API_URL
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN"),
            signing_secret=env.get("SLACK_SIGNING_SECRET"),
            app_token=env.get("SLACK_APP_TOKEN"),
            api_url=url if url.endswith("/") else url + "/",
            webhook_secret=env.get("GPUBOT_WEBHOOK_SECRET"),
        )

    def __repr__(self) -> str:  # never print tokens
        return f"SlackEnv(api_url={self.api_url!r}, socket_mode={self.app_token is not None})"

    __str__ = __repr__
