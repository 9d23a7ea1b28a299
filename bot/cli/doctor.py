"""`gpubot doctor`: is this installation able to work? A pass/fail table with the fix for each.

Checks the configuration loads, each configured cluster's API server and ARM answer, the API server
allows every read diagnosis makes (a SelfSubjectAccessReview each; a denied one prints the
exact gpubot-read rule to add), and, when SLACK_BOT_TOKEN is set, Slack's auth.test.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check configuration, cluster access, RBAC and Slack tokens; print what to fix",
    )
    doctor.add_argument(
        "--config", type=Path, metavar="FILE", help="configuration (or GPUBOT_CONFIG)"
    )
    doctor.set_defaults(handler=cmd_doctor)


def _config_rows(path: str | None) -> tuple[list[Row], Any]:
    from bot.settings import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as exc:
        fix = "pass --config FILE or set GPUBOT_CONFIG to a file with a clusters: list"
        return [Row("configuration", False, str(exc), fix)], None
    names = ", ".join(c.name for c in config.clusters)
    return [Row("configuration", True, f"{path or 'environment'}: clusters {names}")], config


def _kube_rows(cluster: Any) -> list[Row]:
    from bot.settings import AKS_USER
    from bot.sources import kube_access
    from bot.sources.base import BadInput
    from bot.sources.kube_config import api_client_from

    name = f"kubernetes {cluster.name}"
    if cluster.kube_context == AKS_USER:
        return [Row(name, True, "credentials come from ARM at run time; not checked here")]
    try:
        api, label = api_client_from(None, cluster.kube_context)
        version = kube_access.reachable(api)
    except BadInput as exc:
        return [Row(name, False, str(exc), "set KUBECONFIG or kube_context, or run in-cluster")]
    except Exception as exc:  # any transport or API failure is a failed check, not a crash
        return [Row(name, False, f"API server unreachable: {type(exc).__name__}", _NET_FIX)]
    rows = [Row(name, True, f"{label}: API server {version}")]
    for perm in kube_access.READS:
        check = f"  may {perm.verb} {perm.resource}" + (f".{perm.group}" if perm.group else "")
        try:
            ok = kube_access.allowed(api, perm)
        except Exception as exc:
            rows.append(Row(check, False, f"access review failed: {type(exc).__name__}", _NET_FIX))
            continue
        fix = "" if ok else f"add to ClusterRole gpubot-read: {perm.rule()}"
        rows.append(Row(check, ok, "allowed" if ok else "denied", fix))
    return rows


def _azure_rows(cluster: Any) -> list[Row]:
    """One cheap ARM question: the managed cluster itself."""
    from bot.model.evidence import Question
    from bot.sources.arm import AzureSource
    from bot.sources.base import BadInput

    name = f"azure {cluster.name}"
    if not (cluster.subscription_id and cluster.resource_group):  # nothing to ask ARM
        return [Row(name, True, "no subscription_id/resource_group: Azure evidence is skipped")]
    try:
        azure = AzureSource.from_env(cluster.info())
    except BadInput as exc:
        return [Row(name, False, str(exc), _AZURE_FIX)]
    except Exception as exc:
        return [Row(name, False, f"cannot set up Azure clients: {type(exc).__name__}", _AZURE_FIX)]
    got = azure.fetch_body(Question.of("azure.managed_cluster"))
    if got.available:
        return [Row(name, True, "managed cluster readable through ARM")]
    return [Row(name, False, str(got.unavailable), _AZURE_FIX)]


_AZURE_FIX = (
    "assign the gpubot custom role (azure/gpubot-role.json) to the workload identity; "
    "see README 'Deploy to AKS'"
)
_NET_FIX = "check the API server address and that egress to it on 443 is allowed"


def _slack_rows(env: dict[str, str]) -> list[Row]:
    token = env.get("SLACK_BOT_TOKEN")
    if not token:
        return [Row("slack", True, "SLACK_BOT_TOKEN not set: Slack not configured (CLI use only)")]
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from bot.slack.settings import DEFAULT_API_URL

    client = WebClient(token=token, base_url=env.get("GPUBOT_SLACK_API_URL") or DEFAULT_API_URL)
    try:
        resp = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        return [
            Row("slack auth.test", False, error, "set SLACK_BOT_TOKEN to the app's xoxb- token")
        ]
    except Exception as exc:
        return [Row("slack auth.test", False, type(exc).__name__, "allow egress to slack.com:443")]
    scopes = resp.headers.get("x-oauth-scopes") or resp.headers.get("X-OAuth-Scopes") or ""
    detail = f"team {resp.get('team', '?')} as {resp.get('user', '?')}"
    rows = [Row("slack auth.test", True, detail)]
    if scopes:
        have = {s.strip() for s in scopes.split(",")}
        missing = sorted(NEEDED_SCOPES - have)
        fix = f"add bot scopes {', '.join(missing)} and reinstall the app" if missing else ""
        rows.append(Row("slack scopes", not missing, ", ".join(sorted(have)), fix))
    app_token = env.get("SLACK_APP_TOKEN")
    if app_token is not None and not app_token.startswith("xapp-"):
        rows.append(Row("slack app token", False, "not an xapp- token", "use the app-level token"))
    return rows


NEEDED_SCOPES = {"chat:write", "commands"}


def render(rows: list[Row]) -> str:
    width = max(len(r.check) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"{'PASS' if r.ok else 'FAIL'}  {r.check.ljust(width)}  {r.detail}")
        if r.fix:
            lines.append(f"      {' ' * width}  fix: {r.fix}")
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed} passed, {failed} failed")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.cli.wiring import config_path

    rows, config = _config_rows(config_path(args))
    if config is not None:
        for cluster in config.clusters:
            rows.extend(_kube_rows(cluster))
            rows.extend(_azure_rows(cluster))
    rows.extend(_slack_rows(dict(os.environ)))
    sys.stdout.write(render(rows) + "\n")
    return 0 if all(r.ok for r in rows) else 1
