"""The real Azure SDK clients against the loopback HTTPS emulator (no SDK object is patched).

The clients are configured only through DESIGN.md's overrides (GPUBOT_ARM_ENDPOINT,
GPUBOT_LOGS_ENDPOINT, GPUBOT_CA_BUNDLE, GPUBOT_AZURE_TOKEN, GPUBOT_NOW) via `AzureSource.from_env`.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from bot.model.evidence import Question, known_queries
from bot.sources.arm import AzureSource
from bot.sources.azure_common import ClientOptions
from bot.sources.base import BadInput
from bot.sources.snapshot import SnapshotSource
from tests.emulators.azure_api import AzureEmulator, Fault

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"
HEALTHY = SCENARIOS / "healthy"
CANARY = "canary-token-7f3a9c"  # must never show up in a reason, a log line or a record
ARM_KINDS = [
    "azure.usages",
    "azure.skus",
    "azure.managed_cluster",
    "azure.agent_pools",
    "azure.registries",
]
# Short timeouts and backoff keep fault tests quick; the retry count is the production default.
FAST = ClientOptions(connect_timeout=1, read_timeout=0.5, backoff=0.01, backoff_max=0.05)


def questions() -> list[Question]:
    return [Question.of(k) for k in ARM_KINDS] + [
        Question.of("loganalytics.query", {"query": q}) for q in sorted(known_queries())
    ]


def azure_scenarios() -> list[Path]:
    dirs = sorted(p.parent for p in SCENARIOS.rglob("expect.yaml"))
    return [d for d in dirs if (d / "azure").is_dir() or (d / "loganalytics").is_dir()]


@pytest.fixture
def live(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch):
    """live(snapshot) -> (emulator, AzureSource configured from the environment only)."""
    started: list[AzureEmulator] = []

    def make(snapshot: Path, **options: object) -> tuple[AzureEmulator, AzureSource]:
        emu = AzureEmulator(snapshot, token=CANARY, ca=ca).start()
        started.append(emu)
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        opts = ClientOptions(**{**FAST.__dict__, **options})
        return emu, AzureSource.from_env(SnapshotSource(snapshot).cluster, options=opts)

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def copy_of(tmp_path: Path):
    def make(snapshot: Path) -> Path:
        target = tmp_path / snapshot.name
        shutil.copytree(snapshot, target)
        return target

    return make


def ask(source: AzureSource, kind: str, query: str | None = None):
    return source.answer(Question.of(kind, {"query": query} if query else None))


# ---- parity with the snapshot source -----------------------------------------------------------


@pytest.mark.parametrize("snapshot", azure_scenarios(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_live_answers_equal_snapshot_answers(snapshot: Path, live) -> None:
    emu, source = live(snapshot)
    offline = SnapshotSource(snapshot)
    for question in questions():
        want, got = offline.answer(question), source.answer(question)
        assert got.available == want.available, (question, got.unavailable, want.unavailable)
        if want.available:
            assert got.data == want.data, question
        else:
            assert got.unavailable.startswith("403 "), got.unavailable
    assert emu.requests and all(r.authorized for r in emu.requests)
    assert source.now() == offline.now()  # GPUBOT_NOW = the snapshot's captured_at
    assert findings(Split(offline, source)) == findings(offline)


class Split:
    """Kubernetes from the snapshot, Azure and Log Analytics live: the Azure half of parity."""

    kind = "snapshot"

    def __init__(self, offline: SnapshotSource, azure: AzureSource) -> None:
        self.offline, self.azure, self.cluster = offline, azure, offline.cluster

    def now(self):
        return self.azure.now()

    def answer(self, question: Question):
        live = question.kind.startswith(("azure.", "loganalytics."))
        return (self.azure if live else self.offline).answer(question)


def findings(source) -> list[dict]:
    from bot.engine.loader import load_catalog
    from bot.engine.runner import diagnose
    from bot.render import json_out

    catalog = load_catalog()
    playbooks = catalog.select(catalog.runbook("triage").playbooks)
    return json.loads(json_out.render(diagnose(playbooks, source)))["findings"]


REFERENCE = ROOT / "tests" / "fixtures" / "azure-rest-api-specs"


def _example(rel: str, status: str = "200") -> dict:
    return json.loads((REFERENCE / rel).read_text(encoding="utf-8"))["responses"][status]["body"]


def test_real_arm_shapes_round_trip(live, copy_of) -> None:
    """Bodies from the REST API specs (plus a restricted SKU, whose `values` key the old msrest
    models renamed `values_property`) come back key for key, unknown fields included."""
    snapshot = copy_of(HEALTHY)
    skus = _example("compute/ListAvailableResourceSkusForARegion.json")
    skus["value"].append(
        {
            "resourceType": "virtualMachines",
            "name": "Standard_ND96isr_H100_v5",
            "family": "standardNDSH100v5Family",
            "locations": ["eastus2"],
            "locationInfo": [{"location": "eastus2", "zones": ["2"], "zoneDetails": []}],
            "capabilities": [{"name": "GPUs", "value": "8"}],
            "restrictions": [
                {
                    "type": "Location",
                    "values": ["eastus2"],
                    "reasonCode": "NotAvailableForSubscription",
                    "restrictionInfo": {"locations": ["eastus2"]},
                },
                {
                    "type": "Zone",
                    "values": ["eastus2"],
                    "reasonCode": "NotAvailableForSubscription",
                    "restrictionInfo": {"locations": ["eastus2"], "zones": ["1", "3"]},
                },
            ],
            "aFieldArmAddsLater": {"nested": [1, "two"]},
        }
    )
    # Paging links are transport, not evidence: the live answer is all pages as one `value`.
    skus.pop("nextLink")
    usages = _example("compute/Usage_List_MaximumSet_Gen.json")
    usages.pop("nextLink")  # a placeholder link in the example, not a page to follow
    bodies = {
        "skus.json": skus,
        "usages.json": usages,
        "managed-cluster.json": _example(
            "containerservice/2025-10-01/ManagedClustersCreate_Update.json"
        ),
        "agent-pools.json": {
            "value": [
                _example("containerservice/2026-08-01/AgentPoolsCreate_ManagedGPU.json"),
                _example("containerservice/2026-08-01/AgentPoolsCreate_Spot.json"),
            ]
        },
    }
    for name, body in bodies.items():
        (snapshot / "azure" / name).write_text(json.dumps(body), encoding="utf-8")
    _, source = live(snapshot)
    for name, kind in [
        ("skus.json", "azure.skus"),
        ("usages.json", "azure.usages"),
        ("managed-cluster.json", "azure.managed_cluster"),
        ("agent-pools.json", "azure.agent_pools"),
    ]:
        assert ask(source, kind).data == bodies[name], kind


def test_paged_lists_are_joined(live) -> None:
    emu, source = live(HEALTHY)
    emu.page_size = 1
    offline = SnapshotSource(HEALTHY)
    for kind in ("azure.usages", "azure.skus", "azure.agent_pools"):
        assert ask(source, kind).data == offline.answer(Question.of(kind)).data
    pages = len(offline.answer(Question.of("azure.usages")).data["value"])
    assert len(emu.seen("usages")) == pages
    assert "$skiptoken" in emu.seen("usages")[-1].query


def test_arm_fault_leaves_other_findings_intact(live) -> None:
    emu, source = live(SCENARIOS / "quota-exhausted" / "confirmed")
    emu.inject("usages", Fault("status", 503))
    offline = SnapshotSource(SCENARIOS / "quota-exhausted" / "confirmed")
    got = {f["playbook"]: f for f in findings(Split(offline, source))}
    want = {f["playbook"]: f for f in findings(offline)}
    assert want["quota-exhausted"]["verdict"] == "confirmed"
    assert got["quota-exhausted"]["verdict"] == "inconclusive"
    lines = [e["detail"] for e in got["quota-exhausted"]["evidence"]]
    assert any("azure/usages unavailable: 503 ServiceUnavailable" in line for line in lines), lines
    for playbook, finding in want.items():
        if playbook != "quota-exhausted":
            assert got[playbook] == finding


def test_requests_are_the_documented_ones(live) -> None:
    emu, source = live(HEALTHY)
    for question in questions():
        source.answer(question)
    (skus,) = emu.seen("skus")
    assert skus.query["$filter"] == ["location eq 'eastus2'"]
    assert all("api-version" in r.query for r in emu.requests if r.route != "logs")
    logs = emu.seen("logs")
    assert {r.body["query"].splitlines()[0] for r in logs} == {
        f"// gpubot:{q}" for q in known_queries()
    }
    # The timespan ends at GPUBOT_NOW and covers the queries' own ago(1d).
    assert logs[0].body["timespan"] == "2026-11-26T07:40:00.000Z/2026-11-27T07:40:00.000Z"


def test_missing_file_is_403_not_none(live, copy_of) -> None:
    snapshot = copy_of(HEALTHY)
    (snapshot / "azure" / "registries.json").unlink()
    (snapshot / "loganalytics" / "gpu-node-hours.json").unlink()
    _, source = live(snapshot)
    registries = ask(source, "azure.registries")
    assert not registries.available
    assert registries.unavailable.startswith("403 AuthorizationFailed: ")
    hours = ask(source, "loganalytics.query", "gpu-node-hours")
    assert not hours.available and hours.unavailable.startswith("403 ")
    assert ask(source, "azure.usages").available  # the rest still answers


def test_unconfigured_cluster_keys_and_other_questions(live, copy_of) -> None:
    _, source = live(HEALTHY)
    bare = AzureSource(
        SnapshotSource(HEALTHY).cluster.__class__(name="aks-inference"), source.credential
    )
    assert ask(bare, "azure.usages").unavailable == "cluster subscription_id is not configured"
    reason = ask(bare, "loganalytics.query", "gpu-node-hours").unavailable
    assert reason == "cluster log_analytics_workspace_id is not configured"
    other = source.answer(Question.of("kubernetes.list", {"resource": "pods"}))
    assert other.unavailable == "kubernetes.list is not an Azure question"


# ---- faults: bounded retries, honoured Retry-After, other sources unaffected -------------------


RETRIED = FAST.retries + 1  # one try plus the retries


@pytest.mark.parametrize(
    ("fault", "reason", "tries"),
    [
        (Fault("timeout"), "timeout", RETRIED),
        (Fault("status", 503), "503 ServiceUnavailable: emulated 503", RETRIED),
        (Fault("status", 500), "500 ", RETRIED),
        (Fault("malformed"), "malformed response body", 1),
        (Fault("truncated"), "response body cut short", None),
    ],
    ids=["timeout", "503", "500", "malformed", "truncated"],
)
def test_arm_fault_is_missing_and_logs_still_answer(
    live, fault: Fault, reason: str, tries: int | None
) -> None:
    emu, source = live(HEALTHY)
    emu.stall_seconds = 1.0
    emu.inject("usages", fault)
    started = time.monotonic()
    usages = ask(source, "azure.usages")
    assert not usages.available and usages.unavailable.startswith(reason), usages.unavailable
    assert time.monotonic() - started < 10
    assert 1 <= len(emu.seen("usages")) <= RETRIED
    assert tries is None or len(emu.seen("usages")) == tries
    assert ask(source, "loganalytics.query", "gpu-node-hours").available
    assert ask(source, "azure.skus").available


@pytest.mark.parametrize("fault", [Fault("timeout"), Fault("status", 503), Fault("malformed")])
def test_logs_fault_is_missing_and_arm_still_answers(live, fault: Fault) -> None:
    emu, source = live(HEALTHY)
    emu.stall_seconds = 1.0
    emu.inject("logs", fault)
    hours = ask(source, "loganalytics.query", "gpu-node-hours")
    assert not hours.available
    assert 1 <= len(emu.seen("logs")) <= RETRIED
    for kind in ARM_KINDS:
        assert ask(source, kind).available


def test_429_retry_after_is_honoured(live) -> None:
    emu, source = live(HEALTHY)
    emu.inject("managed_cluster", Fault("status", 429, retry_after="1", times=1))
    emu.inject("logs", Fault("status", 429, retry_after="1", times=1))
    started = time.monotonic()
    assert ask(source, "azure.managed_cluster").available
    assert ask(source, "loganalytics.query", "gpu-error-patterns").available
    assert time.monotonic() - started >= 2.0  # waited the server's Retry-After each time
    assert [r.status for r in emu.seen("managed_cluster")] == [429, 200]
    assert [r.status for r in emu.seen("logs")] == [429, 200]


def test_unreasonable_retry_after_gives_up_at_once(live) -> None:
    emu, source = live(HEALTHY)
    emu.inject("skus", Fault("status", 429, retry_after="3600"))
    started = time.monotonic()
    skus = ask(source, "azure.skus")
    assert skus.unavailable == "429 TooManyRequests: emulated 429 (Retry-After 3600 s)"
    assert time.monotonic() - started < 5 and len(emu.seen("skus")) == 1


def test_connection_refused_arm_while_logs_answer(live, monkeypatch) -> None:
    live(HEALTHY)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("GPUBOT_ARM_ENDPOINT", f"https://127.0.0.1:{closed_port}")
    source = AzureSource.from_env(SnapshotSource(HEALTHY).cluster, options=FAST)
    usages = ask(source, "azure.usages")
    assert usages.unavailable == "cannot connect: connection refused"
    assert ask(source, "loganalytics.query", "gpu-node-hours").available


def test_untrusted_certificate_is_refused_without_the_ca_bundle(live, monkeypatch) -> None:
    live(HEALTHY)
    monkeypatch.delenv("GPUBOT_CA_BUNDLE")
    source = AzureSource.from_env(SnapshotSource(HEALTHY).cluster, options=FAST)
    reason = ask(source, "azure.usages").unavailable
    assert reason.startswith("cannot connect:") and "CERTIFICATE_VERIFY_FAILED" in reason


# ---- the token: sent, checked, never leaked --------------------------------------------------


def test_token_never_leaks(live, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    emu, source = live(HEALTHY)
    emu.inject("usages", Fault("status", 503))
    emu.inject("logs", Fault("malformed"))
    answers = [source.answer(q) for q in questions()]
    assert emu.requests and all(r.authorized for r in emu.requests)
    monkeypatch.setenv("GPUBOT_AZURE_TOKEN", "wrong-" + CANARY)
    wrong = AzureSource.from_env(source.cluster, options=FAST)
    denied = ask(wrong, "azure.registries")
    assert denied.unavailable.startswith("401 AuthenticationFailed")
    texts = [a.unavailable or "" for a in [*answers, denied]]
    texts += [caplog.text, repr(source.credential), json.dumps([r.headers for r in emu.requests])]
    assert not any(CANARY in t for t in texts)


class NoCredential:
    """A TokenCredential with nothing to offer, like DefaultAzureCredential off Azure."""

    calls = 0

    def get_token(self, *scopes: str, **kwargs: object):
        from azure.core.exceptions import ClientAuthenticationError

        NoCredential.calls += 1
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")


def test_missing_credential_is_reported_once_not_probed_per_question(live) -> None:
    emu, source = live(HEALTHY)
    blind = AzureSource(
        source.cluster,
        NoCredential(),
        arm_endpoint=emu.url,
        ca_bundle=emu.ca_file,
        logs_endpoint=emu.url + "/v1",
        options=FAST,
    )
    reasons = {blind.answer(q).unavailable for q in questions()}
    assert reasons == {"no Azure credential: DefaultAzureCredential failed to retrieve a token"}
    assert NoCredential.calls == 1 and not emu.requests


# ---- aks-user kubeconfig ---------------------------------------------------------------------


def test_aks_user_kubeconfig_is_written_private(live) -> None:
    emu, source = live(HEALTHY)
    emu.user_kubeconfig = b"apiVersion: v1\nkind: Config\nclusters: []\n"
    path = source.user_kubeconfig()
    try:
        assert path.read_bytes() == emu.user_kubeconfig
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert emu.seen("user_credentials")[0].method == "POST"
    finally:
        path.unlink()
    emu.user_kubeconfig = None
    with pytest.raises(BadInput, match="aks-user credentials: 403 AuthorizationFailed"):
        source.user_kubeconfig()


# ---- emulator writes: ETag / If-Match, quota -----------------------------------------------


def _call(emu: AzureEmulator, ca: trustme.CA, method: str, path: str, body=None, **headers):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        emu.url + path + "?api-version=2025-10-01",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {CANARY}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, context=context) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


AKS = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml"
    "/providers/Microsoft.ContainerService/managedClusters/aks-inference"
)
QUOTA = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Compute"
    "/locations/eastus2/providers/Microsoft.Quota/quotas/standardNCADSA100v4Family"
)


def test_put_with_etag(live, ca: trustme.CA) -> None:
    emu, source = live(HEALTHY)
    status, headers, pool = _call(emu, ca, "GET", AKS + "/agentPools/gpua100")
    assert status == 200 and pool["properties"]["minCount"] == 0
    etag = headers["ETag"]
    pool["properties"]["minCount"] = 1
    stale, _, err = _call(emu, ca, "PUT", AKS + "/agentPools/gpua100", pool, **{"If-Match": '"x"'})
    assert stale == 412 and err["error"]["code"] == "PreconditionFailed"
    status, headers, _ = _call(
        emu, ca, "PUT", AKS + "/agentPools/gpua100", pool, **{"If-Match": etag}
    )
    assert status == 200 and headers["ETag"] != etag
    again, _, _ = _call(emu, ca, "PUT", AKS + "/agentPools/gpua100", pool, **{"If-Match": etag})
    assert again == 412  # the first write moved the ETag on
    pools = ask(source, "azure.agent_pools").data["value"]
    assert next(p for p in pools if p["name"] == "gpua100")["properties"]["minCount"] == 1
    status, headers, _ = _call(emu, ca, "GET", AKS)
    assert status == 200 and "ETag" in headers
    assert [r.method for r in emu.writes()] == ["PUT", "PUT", "PUT"]
    assert (HEALTHY / "azure" / "agent-pools.json").read_text().count('"minCount": 0') == 1


def test_quota_request_raises_the_usage_limit(live, ca: trustme.CA) -> None:
    emu, source = live(HEALTHY)
    status, _, quota = _call(emu, ca, "GET", QUOTA)
    assert status == 200 and quota["properties"]["limit"]["value"] == 96
    body = {
        "properties": {
            "limit": {"limitObjectType": "LimitValue", "value": 120},
            "name": {"value": "standardNCADSA100v4Family"},
        }
    }
    status, _, quota = _call(emu, ca, "PUT", QUOTA, body)
    assert status == 200 and quota["properties"]["provisioningState"] == "Succeeded"
    usages = ask(source, "azure.usages").data["value"]
    family = next(u for u in usages if u["name"]["value"] == "standardNCADSA100v4Family")
    assert family["limit"] == 120


def test_log_analytics_partial_result_is_not_evidence(live, copy_of) -> None:
    snapshot = copy_of(HEALTHY)
    path = snapshot / "loganalytics" / "gpu-error-patterns.json"
    body = json.loads(path.read_text())
    body["error"] = {"code": "PartialError", "message": "query exceeded the result size limit"}
    path.write_text(json.dumps(body))
    _, source = live(snapshot)
    reason = ask(source, "loganalytics.query", "gpu-error-patterns").unavailable
    assert reason.startswith("partial result (PartialError"), reason


# ---- start-up cost: the snapshot path never imports the Azure SDKs ---------------------------


def test_snapshot_diagnosis_never_imports_azure() -> None:
    code = (
        "import sys\n"
        "from bot.cli.main import main\n"
        "import bot.sources.arm, bot.settings\n"
        f"rc = main(['diagnose', '--snapshot', {str(HEALTHY)!r}, '--format', 'json',"
        " '--no-progress'])\n"
        "loaded = sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.'))\n"
        "assert rc == 0 and not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in list(os.environ):
        if name.startswith("GPUBOT_"):
            monkeypatch.delenv(name)
    yield
