"""Build the official client's ApiClient from a kubeconfig (or in-cluster config)."""

from __future__ import annotations

import os

from kubernetes import client, config

from bot.sources.base import BadInput


def api_client_from(
    path: str | None, context: str | None, *, pool_size: int | None = None
) -> tuple[client.ApiClient, str]:
    """(ApiClient, a label for the cluster). In a pod with no kubeconfig named: in-cluster.

    `pool_size`: connections kept open, as many as the source has requests in flight; the
    client's default (5 per CPU) would open and drop a connection per request beyond it."""
    configuration = client.Configuration()
    # Retries are ours (kube_http.Caller: 429/503 with Retry-After, bounded). urllib3's own
    # default would silently repeat a timed-out GET three more times.
    configuration.retries = False
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    try:
        if path is None and context is None and in_pod and not os.environ.get("KUBECONFIG"):
            config.load_incluster_config(client_configuration=configuration)
            label = "in-cluster"
        else:
            # The client reads $KUBECONFIG once, at import; read it now so a changed
            # environment (tests, `env KUBECONFIG=... gpubot`) is honoured.
            path = path or os.environ.get("KUBECONFIG") or None
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration
            )
            label = context or _current_context(path) or "kubernetes"
    except (config.ConfigException, OSError, ValueError) as exc:
        where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise BadInput(f"{where}: cannot load Kubernetes configuration: {exc}") from exc
    return client.ApiClient(configuration), label


def _current_context(path: str | None) -> str | None:
    try:
        _, current = config.list_kube_config_contexts(config_file=path)
    except (config.ConfigException, OSError, ValueError):
        return None
    return str(current.get("name")) if current else None
