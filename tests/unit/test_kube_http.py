"""Pure helpers of the live Kubernetes source: failure reasons, Retry-After, ports, list items."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import urllib3

from bot.sources.kube_http import (
    CallFailed,
    clip,
    parse_json,
    retry_after,
    status_message,
    transport_reason,
)
from bot.sources.kube_paths import RESOURCES, metrics_port, service_port, typed_items

FORBIDDEN_BODY = json.dumps(
    {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods is forbidden: User "system:serviceaccount:gpubot:gpubot" cannot list '
        'resource "pods" in API group "" at the cluster scope',
        "reason": "Forbidden",
        "details": {"kind": "pods"},
        "code": 403,
    }
)


def test_status_message_quotes_the_api_servers_message() -> None:
    assert status_message(403, "Forbidden", FORBIDDEN_BODY) == (
        '403 Forbidden: pods is forbidden: User "system:serviceaccount:gpubot:gpubot" cannot '
        'list resource "pods" in API group "" at the cluster scope'
    )


def test_status_message_without_json_or_phrase() -> None:
    assert status_message(502, None, "<html>\n<h1>Bad Gateway</h1></html>") == (
        "502 Bad Gateway: <html> <h1>Bad Gateway</h1></html>"
    )
    assert status_message(404, "Not Found", "") == "404 Not Found"
    long = status_message(500, "Internal Server Error", "x" * 1000)
    assert len(long) == 300 and long.endswith("…")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0", 0.0), ("3600", 5.0), ("-4", 0.0), ("soon", None), (None, None)],
)
def test_retry_after_seconds_capped(header: str | None, expected: float | None) -> None:
    headers = {} if header is None else {"Retry-After": header}
    assert retry_after(headers, 5.0) == expected


def test_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    wait = retry_after({"Retry-After": when}, 10.0)
    assert wait is not None and 1.0 <= wait <= 3.0


def test_transport_reasons_are_short_and_carry_no_headers() -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", 6443)
    refused = urllib3.exceptions.NewConnectionError(
        pool, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    wrapped = urllib3.exceptions.MaxRetryError(pool, "/api/v1/nodes", refused)
    assert transport_reason(wrapped, 10) == (
        "cannot reach the Kubernetes API server: Connection refused"
    )
    timed_out = urllib3.exceptions.ReadTimeoutError(pool, "/api/v1/nodes", "Read timed out.")
    assert transport_reason(timed_out, 2.5) == "timeout after 2.5s"
    broken = urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(20 bytes read)")
    assert transport_reason(broken, 10) == (
        "response cut off: Connection broken: IncompleteRead(20 bytes read)"
    )


def test_parse_json_names_the_list() -> None:
    with pytest.raises(CallFailed) as bad:
        parse_json(b'{"kind": "PodList", "items": [', "pods list")
    assert bad.value.reason.startswith("malformed JSON in the pods list response: Expecting")
    assert clip("a\n  b") == "a b"


def test_parse_json_of_nesting_too_deep_is_malformed_not_a_recursion_error() -> None:
    # json.loads raises RecursionError here; the source must call it malformed like any bad body.
    with pytest.raises(CallFailed, match="malformed JSON in the pods list"):
        parse_json(b'{"items": ' + b"[" * 100_000, "pods list")


def test_list_items_get_kind_and_api_version_as_kubectl_prints_them() -> None:
    doc = {"kind": "DaemonSetList", "apiVersion": "apps/v1", "items": [{"metadata": {"name": "a"}}]}
    assert typed_items(doc, RESOURCES["daemonsets"], "v1") == [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "a"}}
    ]
    crd = {
        "kind": "WorkspaceList",
        "apiVersion": "kaito.sh/v1alpha1",
        "items": [{"apiVersion": "kaito.sh/v1alpha1", "kind": "Workspace", "metadata": {}}],
    }
    assert (
        typed_items(crd, RESOURCES["workspaces"], "v1alpha1")[0]["apiVersion"]
        == "kaito.sh/v1alpha1"
    )


def test_metrics_and_service_ports() -> None:
    kaito = {
        "metadata": {"labels": {"kaito.sh/workspace": "ws"}},
        "spec": {"containers": [{"ports": [{"containerPort": 8000}]}]},
    }
    plain = {
        "metadata": {},
        "spec": {"containers": [{"name": "init"}, {"ports": [{"containerPort": 8080}]}]},
    }
    assert metrics_port(kaito) == 5000
    assert metrics_port(plain) == 8080
    assert metrics_port({"spec": {"containers": [{}]}}) == 8000
    assert (
        service_port({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 5000}]}}) == 80
    )
    assert service_port({"spec": {"type": "ExternalName"}}) is None


def test_api_order_is_the_storage_key_order() -> None:
    from bot.sources.listorder import api_order

    objs = [
        {"metadata": {"namespace": "default", "name": "b"}},
        {"metadata": {"namespace": "default-x", "name": "a"}},
        {"metadata": {"namespace": "default", "name": "a-1"}},
        {"metadata": {"namespace": "default", "name": "a"}},
    ]
    # etcd compares keys as bytes: "default-x/" < "default/" because "-" < "/".
    assert [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in api_order(objs)] == [
        "default-x/a",
        "default/a",
        "default/a-1",
        "default/b",
    ]
