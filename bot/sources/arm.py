"""Live Azure evidence: ARM (compute, containerservice, containerregistry) and Log Analytics.

`AzureSource` answers the `azure.*` and `loganalytics.query` questions with exactly the data the
snapshot source gives for the same facts: ARM REST bodies (`{"value": [...]}` for lists, REST
camelCase keys; the SDKs' TypeSpec models keep the service JSON, so `as_dict()` returns it
unchanged, unknown fields included) and the primary table's rows of a query. Every failure
becomes `Answer.missing(question, reason)`; nothing here raises into the engine.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.model.evidence import Answer, Question
from bot.sources import calls
from bot.sources.azure_common import (
    DEFAULT_ARM_ENDPOINT,
    DEFAULT_LOGS_ENDPOINT,
    ClientOptions,
    StaticTokenCredential,
    default_credential,
    failure_reason,
    is_malformed,
)
from bot.sources.base import BadInput, ClusterInfo
from bot.sources.formats import table_rows
from bot.sources.loganalytics import SOURCE as LOGS_SOURCE
from bot.sources.loganalytics import LogAnalyticsReader, Unavailable

# What each question needs from the cluster's configuration (DESIGN.md snapshot.yaml keys).
_NEEDS = {
    "azure.usages": ("subscription_id", "location"),
    "azure.skus": ("subscription_id", "location"),
    "azure.managed_cluster": ("subscription_id", "resource_group"),
    "azure.agent_pools": ("subscription_id", "resource_group"),
    "azure.registries": ("subscription_id",),
    "loganalytics.query": ("log_analytics_workspace_id",),
}
# Every configured query looks back at most a day (`ago(1d)`); the API requires a timespan.
LOG_WINDOW = timedelta(days=1)
SOURCE = "arm"  # ARM calls' label on /metrics


def call_names(question: Question) -> tuple[str, str]:
    """(source, operation) of a question's call on /metrics: `arm usages`, or
    `loganalytics <query id>` (both bounded sets, fit for labels)."""
    if question.kind == "loganalytics.query":
        return LOGS_SOURCE, str(question.param("query"))
    return SOURCE, question.kind.removeprefix("azure.")


class AzureSource:
    kind = "live"

    def __init__(
        self,
        cluster: ClusterInfo,
        credential: Any,
        *,
        arm_endpoint: str = DEFAULT_ARM_ENDPOINT,
        logs_endpoint: str = DEFAULT_LOGS_ENDPOINT,
        ca_bundle: Path | str | None = None,
        now: datetime | None = None,
        options: ClientOptions | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.cluster = cluster
        self.credential = credential
        self.arm_endpoint = arm_endpoint.rstrip("/")
        base = options or ClientOptions()
        self.options = replace(base, ca_bundle=Path(ca_bundle)) if ca_bundle else base
        self._now = now
        self._secrets = secrets  # scrubbed from every reason, whatever an error echoes
        self._clients: dict[str, Any] = {}
        self._no_credential: str | None = None
        self._lock = threading.Lock()
        self.logs = LogAnalyticsReader(credential, logs_endpoint, self.options)

    @classmethod
    def from_env(cls, cluster: ClusterInfo, env: Any = None, **kwargs: Any) -> AzureSource:
        """Configured by DESIGN.md's overrides: GPUBOT_ARM_ENDPOINT, _LOGS_ENDPOINT, ..."""
        from bot.settings import live_env

        env = env or live_env()
        token = env.azure_token.get_secret_value() if env.azure_token else None
        return cls(
            cluster,
            StaticTokenCredential(token) if token else default_credential(),
            arm_endpoint=env.arm_endpoint,
            logs_endpoint=env.logs_endpoint,
            ca_bundle=env.ca_bundle,
            now=env.now,
            secrets=(token,) if token else (),
            **kwargs,
        )

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)

    # ---- answering -----------------------------------------------------------------------

    def answer(self, question: Question) -> Answer:
        got = self.fetch_body(question)
        if got.available and question.kind == "loganalytics.query":
            return Answer(question, table_rows(got.data))
        return got

    def fetch_body(self, question: Question) -> Answer:
        """The REST body as the service sent it (what `collect` writes to the snapshot)."""
        fetch = self._fetchers().get(question.kind)
        if fetch is None:
            return Answer.missing(question, f"{question.kind} is not an Azure question")
        absent = [k for k in _NEEDS[question.kind] if not getattr(self.cluster, k)]
        if absent:
            return Answer.missing(question, f"cluster {absent[0]} is not configured")
        if self._no_credential:
            return Answer.missing(question, self._no_credential)
        source, operation = call_names(question)
        try:
            with calls.timed(source, operation):
                return Answer(question, fetch(question))
        except Unavailable as exc:
            if exc.reason:
                calls.failed(source, exc.reason)
            return Answer.missing(question, str(exc))
        except Exception as exc:  # any SDK, transport or shape failure is "evidence unavailable"
            if is_malformed(exc):
                calls.failed(source, "malformed")
            reason = failure_reason(exc, self._secrets)
            if reason.startswith("no Azure credential"):
                # Probing every credential kind again would cost seconds per question.
                self._no_credential = reason
            return Answer.missing(question, reason)

    def _fetchers(self) -> dict[str, Callable[[Question], Any]]:
        return {
            "azure.usages": lambda q: _listed(
                self.client("compute").usage.list(self.cluster.location)
            ),
            "azure.skus": lambda q: _listed(
                self.client("compute").resource_skus.list(
                    filter=f"location eq '{self.cluster.location}'"
                )
            ),
            "azure.managed_cluster": lambda q: (
                self.client("aks")
                .managed_clusters.get(self.cluster.resource_group, self.cluster.name)
                .as_dict()
            ),
            "azure.agent_pools": lambda q: _listed(
                self.client("aks").agent_pools.list(self.cluster.resource_group, self.cluster.name)
            ),
            "azure.registries": lambda q: _listed(self.client("acr").registries.list()),
            "loganalytics.query": lambda q: self.logs.query_body(
                str(self.cluster.log_analytics_workspace_id),
                str(q.param("query")),
                self.now(),
                LOG_WINDOW,
            ),
        }

    def client(self, which: str) -> Any:
        """The SDK client `which` ("compute", "aks", "acr", "quota"), made once per source."""
        with self._lock:
            if which not in self._clients:
                self._clients[which] = self._make_client(which)
            return self._clients[which]

    def _make_client(self, which: str) -> Any:
        if which == "compute":
            from azure.mgmt.compute import ComputeManagementClient as Client
        elif which == "aks":
            from azure.mgmt.containerservice import ContainerServiceClient as Client
        elif which == "acr":
            from azure.mgmt.containerregistry import ContainerRegistryManagementClient as Client
        elif which == "quota":
            from azure.mgmt.quota import QuotaMgmtClient as Client
        else:
            raise ValueError(f"no Azure client named {which!r}")
        return Client(
            self.credential,
            str(self.cluster.subscription_id),
            base_url=self.arm_endpoint,
            # The token's audience follows the endpoint (sovereign clouds; emulators ignore it).
            credential_scopes=[f"{self.arm_endpoint}/.default"],
            **self.options.kwargs(source=SOURCE),
        )

    def reason(self, exc: BaseException) -> str:
        """A short, token-free line for a failed call (what fixes report)."""
        return failure_reason(exc, self._secrets)

    # ---- kube_context: aks-user ----------------------------------------------------------

    def user_kubeconfig(self) -> Path:
        """Managed Clusters - List Cluster User Credentials -> a private (0600) kubeconfig file."""
        if not (self.cluster.subscription_id and self.cluster.resource_group):
            raise BadInput(
                f"cluster {self.cluster.name}: kube_context aks-user needs subscription_id "
                "and resource_group"
            )
        try:
            with calls.timed(SOURCE, "user_credentials"):
                result = self.client("aks").managed_clusters.list_cluster_user_credentials(
                    self.cluster.resource_group, self.cluster.name
                )
            kubeconfigs = list(result.kubeconfigs or [])
            if not kubeconfigs or not kubeconfigs[0].value:
                calls.failed(SOURCE, "malformed")
                raise Unavailable("the response holds no kubeconfig")
            content: bytes = kubeconfigs[0].value
        except Exception as exc:
            reason = (
                str(exc) if isinstance(exc, Unavailable) else failure_reason(exc, self._secrets)
            )
            raise BadInput(f"cluster {self.cluster.name}: aks-user credentials: {reason}") from None
        # mkstemp creates the file 0600: the credentials are never readable by other users.
        fd, path = tempfile.mkstemp(prefix=f"gpubot-{self.cluster.name}-", suffix=".kubeconfig")
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        return Path(path)


def _listed(pager: Any) -> dict[str, Any]:
    """All pages of an ARM list as one `{"value": [...]}` body, items in REST JSON."""
    return {"value": [item.as_dict() for item in pager]}
