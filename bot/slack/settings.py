"""Slack settings: the `slack:` section of the configuration file plus Bolt's own env names."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    # Durable diagnoses (bot/slack/jobs.py): a running job's owner renews its heartbeat every
    # job_heartbeat_seconds; a job not renewed for job_lease_seconds belonged to a process that
    # died, and any replica re-runs it, at most job_attempts runs in all.
    job_heartbeat_seconds: float = Field(
        15, gt=0, le=600, description="how often a replica renews its diagnoses and sweeps"
    )
    job_lease_seconds: float = Field(
        60, gt=0, le=3600, description="a diagnosis not renewed this long is re-run elsewhere"
    )
    job_attempts: int = Field(
        2, ge=1, le=10, description="runs of one diagnosis (first + resumes) before giving up"
    )

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> SlackConfig:
        # a lease shorter than two heartbeats would hand live jobs to other replicas
        if self.job_lease_seconds < 2 * self.job_heartbeat_seconds:
            raise ValueError("job_lease_seconds must be at least twice job_heartbeat_seconds")
        return self


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
