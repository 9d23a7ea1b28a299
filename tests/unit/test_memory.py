"""Pure logic behind the GPU-memory rows: vLLM log phases and times, metrics, configs, sharing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.checks import _gpushare as share
from bot.checks import _vllm as vllm
from bot.checks import memory
from bot.model.context import CheckContext, Scope
from bot.model.evidence import Answer, Question
from bot.model.verdicts import Verdict

NOW = datetime(2026, 11, 27, 7, 40, tzinfo=UTC)

# Real vLLM 0.9 start-up (as KAITO's base image prints it), then an OOM while loading shards.
AT_LOAD = """\
INFO 11-27 07:31:02 [__init__.py:239] Automatically detected platform cuda.
INFO 11-27 07:31:05 [api_server.py:1043] vLLM API server version 0.9.0
INFO 11-27 07:31:18 [gpu_model_runner.py:1329] Starting to load model /workspace/vllm/weights...
Loading safetensors checkpoint shards:  43% Completed | 13/30 [00:41<00:54,  3.19s/it]
ERROR 11-27 07:32:01 [core.py:515] EngineCore failed to start.
ERROR 11-27 07:32:01 [core.py:515] torch.OutOfMemoryError: CUDA out of memory. \
Tried to allocate 448.00 MiB. GPU 0 has a total capacity of 79.25 GiB of which 260.81 MiB is free.
Process EngineCore_0:
Traceback (most recent call last):
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 448.00 MiB.
RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}
"""

# Server up, traffic, then vLLM V1's fatal-error path with the OOM in EngineCore's process.
UNDER_LOAD = """\
INFO 11-27 06:02:55 [api_server.py:1090] Starting vLLM API server on http://0.0.0.0:5000
INFO:     Application startup complete.
INFO:     Uvicorn running on http://0.0.0.0:5000 (Press CTRL+C to quit)
INFO:     10.244.0.31:40212 - "POST /v1/chat/completions HTTP/1.1" 200 OK
INFO 11-27 07:29:44 [loggers.py:116] Engine 000: Running: 6 reqs, Waiting: 0 reqs, \
GPU KV cache usage: 99.2%
(EngineCore_0 pid=87) ERROR 11-27 07:30:03 [core.py:502] EngineCore encountered a fatal error.
(EngineCore_0 pid=87) ERROR 11-27 07:30:03 [core.py:502] torch.OutOfMemoryError: \
CUDA out of memory. Tried to allocate 2.49 GiB.
vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue.
"""


# ---- log reading ---------------------------------------------------------------------------


def test_oom_before_ready_markers_is_at_load_with_the_stamp_of_its_line() -> None:
    ooms = vllm.find_ooms(AT_LOAD, NOW)
    assert {o.phase for o in ooms} == {"load"}
    assert ooms[0].message.startswith(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 448.00"
    )
    assert ooms[0].at == datetime(2026, 11, 27, 7, 32, 1, tzinfo=UTC)
    # The bare traceback line carries no stamp: it inherits the last stamped line's time.
    assert ooms[-1].at == datetime(2026, 11, 27, 7, 32, 1, tzinfo=UTC)


def test_oom_after_uvicorn_is_serving_and_engine_prefix_is_stripped() -> None:
    ooms = vllm.find_ooms(UNDER_LOAD, NOW)
    assert [o.phase for o in ooms] == ["serving"]
    assert (
        ooms[0].message == "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.49 GiB."
    )
    assert ooms[0].at == datetime(2026, 11, 27, 7, 30, 3, tzinfo=UTC)


def test_kv_usage_log_line_is_not_an_oom() -> None:
    assert not vllm.is_oom("Engine 000: Running: 6 reqs, GPU KV cache usage: 99.2%")
    assert vllm.is_oom("RuntimeError: CUDA error: out of memory")
    assert vllm.is_oom("torch.cuda.OutOfMemoryError: CUDA out of memory.")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("INFO 11-27 07:31:02 [x.py:1] hi", datetime(2026, 11, 27, 7, 31, 2, tzinfo=UTC)),
        # vLLM prints no year: a date after "now" belongs to last year (log spans New Year).
        ("INFO 12-31 23:59:00 [x.py:1] hi", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
        # `kubectl logs --timestamps` prefixes RFC 3339 with nanoseconds.
        ("2026-11-27T07:31:02.123456789Z hi", datetime(2026, 11, 27, 7, 31, 2, 123456, tzinfo=UTC)),
        ("2026-11-27T07:31:02+05:30 hi", datetime(2026, 11, 27, 2, 1, 2, tzinfo=UTC)),
        ("INFO:     Application startup complete.", None),
    ],
)
def test_line_time(line: str, expected: datetime | None) -> None:
    assert vllm.line_time(line, NOW) == expected


def _pod(statuses: list[dict], *, name: str = "ws-0", labels: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "img"}]},
        "status": {"phase": "Running", "containerStatuses": statuses},
    }


def test_waiting_container_log_belongs_to_the_last_terminated_run() -> None:
    pod = _pod(
        [
            {
                "name": "c",
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {
                    "terminated": {
                        "reason": "Error",
                        "startedAt": "2026-11-27T07:35:30Z",
                        "finishedAt": "2026-11-27T07:36:24Z",
                    }
                },
            }
        ]
    )
    current = vllm.instance(pod, "c", previous=False)
    before = vllm.instance(pod, "c", previous=True)
    assert current.finished == datetime(2026, 11, 27, 7, 36, 24, tzinfo=UTC)
    assert before.finished == datetime(
        2026, 11, 27, 7, 35, 30, tzinfo=UTC
    )  # ended before the last began


def test_oom_without_stamps_is_dated_by_the_instance_end() -> None:
    pod = _pod(
        [
            {
                "name": "c",
                "restartCount": 1,
                "state": {"running": {"startedAt": "2026-11-27T07:30:00Z"}},
                "lastState": {
                    "terminated": {"reason": "Error", "finishedAt": "2026-11-27T07:29:00Z"}
                },
            }
        ]
    )
    logs = [
        {
            "namespace": "default",
            "pod": "ws-0",
            "container": "c",
            "previous": True,
            "text": "INFO:     Uvicorn running on http://0.0.0.0:5000\n"
            "torch.OutOfMemoryError: CUDA out of memory.\n",
        }
    ]
    [hit] = vllm.oom_hits(logs, [pod], NOW)
    assert hit.oom.phase == "serving"
    assert hit.when == datetime(2026, 11, 27, 7, 29, tzinfo=UTC)
    assert "previous instance, 11 min ago" in hit.line(NOW)


def test_has_run() -> None:
    assert not vllm.has_run(
        _pod(
            [
                {
                    "name": "c",
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
            ]
        )
    )
    assert vllm.has_run(
        _pod([{"name": "c", "restartCount": 0, "state": {"running": {"startedAt": "x"}}}])
    )
    assert not vllm.has_run(_pod([]))


def test_ran_since_only_counts_logs_that_can_hold_a_recent_oom() -> None:
    since = NOW - timedelta(hours=1)
    running = {"name": "c", "restartCount": 0, "state": {"running": {"startedAt": "x"}}}
    done_long_ago = {
        "name": "c",
        "restartCount": 0,
        "state": {"terminated": {"reason": "Completed", "finishedAt": "2026-11-27T01:28:00Z"}},
    }
    done_lately = {
        "name": "c",
        "restartCount": 0,
        "state": {"terminated": {"reason": "Error", "finishedAt": "2026-11-27T07:10:00Z"}},
    }
    creating = {"name": "c", "restartCount": 0, "state": {"waiting": {"reason": "Pulling"}}}
    assert vllm.ran_since(_pod([running]), "c", since)
    assert not vllm.ran_since(_pod([done_long_ago]), "c", since)
    assert vllm.ran_since(_pod([done_lately]), "c", since)
    assert not vllm.ran_since(_pod([creating]), "c", since)


def test_previous_expected_when_the_container_restarted_within_the_lookback() -> None:
    hour = timedelta(hours=1)

    def restarted(finished: str, state: dict, restarts: int = 1) -> dict:
        last = {"terminated": {"reason": "Error", "startedAt": finished, "finishedAt": finished}}
        return _pod([{"name": "c", "restartCount": restarts, "state": state, "lastState": last}])

    running = {"running": {"startedAt": "2026-11-27T07:31:00Z"}}
    backoff = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert vllm.previous_expected(restarted("2026-11-27T07:30:00Z", running), "c", NOW, hour)
    assert not vllm.previous_expected(restarted("2026-11-27T04:40:00Z", running), "c", NOW, hour)
    # In back-off the current log is the last run's; the previous is the run before it.
    assert vllm.previous_expected(restarted("2026-11-27T07:30:00Z", backoff, 3), "c", NOW, hour)
    assert not vllm.previous_expected(restarted("2026-11-27T07:30:00Z", backoff, 0), "c", NOW, hour)
    assert not vllm.previous_expected(
        _pod([{"name": "c", "restartCount": 0, "state": running}]), "c", NOW, hour
    )


def test_recent_window_edges() -> None:
    hour = timedelta(hours=1)
    assert vllm.recent(NOW - hour, NOW, hour)
    assert not vllm.recent(NOW - hour - timedelta(seconds=1), NOW, hour)
    assert not vllm.recent(None, NOW, hour)


# ---- metrics and config --------------------------------------------------------------------


def test_kv_metric_read_under_either_name_max_over_engines() -> None:
    entry = {
        "namespace": "default",
        "pod": "ws-0",
        "samples": [
            {"name": "vllm:gpu_cache_usage_perc", "labels": {"engine": "0"}, "value": 0.91},
            {"name": "vllm:gpu_cache_usage_perc", "labels": {"engine": "1"}, "value": 0.97},
            {"name": "vllm:num_requests_running", "labels": {"engine": "0"}, "value": 3.0},
            {"name": "vllm:num_requests_running", "labels": {"engine": "1"}, "value": 4.0},
            {"name": "vllm:num_requests_waiting", "labels": {}, "value": 0.0},
        ],
    }
    m = vllm.pod_metrics(entry)
    assert (m.kv, m.kv_metric, m.running, m.waiting) == (
        0.97,
        "vllm:gpu_cache_usage_perc",
        7.0,
        0.0,
    )
    assert "KV cache 97% (vllm:gpu_cache_usage_perc 0.97), 7 running, 0 waiting" in m.describe()


def test_metrics_not_captured() -> None:
    m = vllm.pod_metrics({"namespace": "default", "pod": "ws-0", "samples": None})
    assert not m.read and m.describe() == "default/ws-0: /metrics not captured"


def test_vllm_config_section_is_yaml_inside_a_string() -> None:
    cm = {
        "data": {
            "inference_config.yaml": "max_probe_steps: 6\nvllm:\n  max-model-len: 131072\n"
            "  max-num-seqs: 64\n"
        }
    }
    section = vllm.vllm_config(cm)
    assert vllm.config_int(section, "max-model-len") == 131072
    assert vllm.config_int(section, "max-num-seqs") == 64
    assert vllm.vllm_config({"data": {"inference_config.yaml": "vllm: [unclosed"}}) is None
    assert vllm.vllm_config(None) is None


@pytest.mark.parametrize(
    ("current", "half"), [(8192, 4096), (131072, 65536), (5000, 2304), (300, 256)]
)
def test_halve_context_floors_to_256(current: int, half: int) -> None:
    assert vllm.halve_context(current) == half


def test_arg_int_both_spellings() -> None:
    pod = {"spec": {"containers": [{"args": ["--port=5000", "--max-num-seqs", "128"]}]}}
    assert vllm.arg_int(pod, "--max-num-seqs") == 128
    assert vllm.arg_int(pod, "--port") == 5000
    assert vllm.arg_int(pod, "--max-model-len") is None


KAITO_CONFIG = "vllm:\n  gpu-memory-utilization: 0.90\n  max-model-len: 32768\n"


def _config(text: str | None, controller: str | None = None) -> vllm.WorkspaceConfig:
    return vllm.WorkspaceConfig(
        "default",
        "ws",
        "cfg",
        vllm.vllm_config({"data": {"inference_config.yaml": text}}),
        text,
        controller,
    )


def test_cap_offer_needs_a_configmap_with_max_model_len() -> None:
    params, line = vllm.cap_offer(_config(KAITO_CONFIG))
    assert params == {
        "namespace": "default",
        "configmap": "cfg",
        "workspace": "ws",
        "current": 32768,
        "new_max_model_len": 16384,
    }
    assert vllm.cap_offer(vllm.WorkspaceConfig("default", "ws", None, None))[0] is None
    params, line = vllm.cap_offer(_config("vllm:\n  swap-space: 4\n"))
    assert params is None and "sets no max-model-len" in line


def test_cap_offer_only_what_the_actuator_can_edit() -> None:
    """No offer the cap-max-model-len actuator would refuse: a ConfigMap a controller owns,
    a value it cannot lower, or a file whose max-model-len is not one editable line."""
    params, line = vllm.cap_offer(_config(KAITO_CONFIG, controller="Workspace ws"))
    assert params is None and "managed by Workspace ws" in line
    params, line = vllm.cap_offer(_config("vllm:\n  max-model-len: 256\n"))
    assert params is None and "256-token floor" in line
    params, line = vllm.cap_offer(_config("vllm: {max-model-len: 8192}\n"))
    assert params is None and "0 max-model-len lines" in line
    params, line = vllm.cap_offer(_config('vllm:\n  max-model-len: "8192"\n'))
    assert params is None and "sets no max-model-len" in line


# ---- GPU sharing ---------------------------------------------------------------------------

# The GPU Operator's own example (tests/plugin-config.yaml) and the seed's per-SKU key form.
PLUGIN_CONFIG = """version: v1
sharing:
  timeSlicing:
    renameByDefault: false
    resources:
    - name: nvidia.com/gpu
      replicas: 10
"""


def _cm(name: str, data: dict[str, str]) -> dict:
    return {"metadata": {"name": name, "namespace": "gpu-operator"}, "data": data}


def test_slicing_configs_reads_every_key_and_skips_noise() -> None:
    configs = share.slicing_configs(
        [
            _cm(
                "time-slicing-config",
                {"a100": PLUGIN_CONFIG, "t4": PLUGIN_CONFIG.replace("10", "1")},
            ),
            _cm("broken", {"x": "timeSlicing: [oops"}),
            _cm("default-mig-parted-config", {"config.yaml": "version: v1\nmig-configs: {}\n"}),
        ]
    )
    assert [(c.configmap, c.key, c.replicas) for c in configs] == [
        ("gpu-operator/time-slicing-config", "a100", 10)
    ]
    assert "(the ClusterPolicy's devicePlugin.config)" in configs[0].line({"time-slicing-config"})


def test_policy_configs() -> None:
    policy = {
        "spec": {"devicePlugin": {"config": {"name": "time-slicing-config", "default": "a100"}}}
    }
    assert share.policy_configs([policy, {"spec": {}}]) == {"time-slicing-config"}


def _node(labels: dict[str, str], gpus: int, sku: str = "Standard_NC24ads_A100_v4") -> dict:
    return {
        "metadata": {"name": "n1", "labels": {"node.kubernetes.io/instance-type": sku, **labels}},
        "status": {"allocatable": {"nvidia.com/gpu": str(gpus)}},
    }


def test_time_slicing_labels_and_overcommit() -> None:
    ns = share.node_sharing(
        _node(
            {
                "nvidia.com/gpu.sharing-strategy": "time-slicing",
                "nvidia.com/gpu.replicas": "4",
                "nvidia.com/mig.strategy": "single",
                "nvidia.com/mig.config": "all-disabled",
                "nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe-SHARED",
            },
            4,
        )
    )
    assert len(ns.signs) == 3 and not ns.isolated
    # mig.strategy=single with MIG disabled does not explain 4 GPUs on a 1-GPU SKU.
    assert ns.over == "n1 advertises 4 nvidia.com/gpu on a 1-GPU Standard_NC24ads_A100_v4"
    assert ns.mig_capable


def test_mig_single_strategy_is_isolation_not_sharing() -> None:
    ns = share.node_sharing(
        _node(
            {
                "nvidia.com/mig.strategy": "single",
                "nvidia.com/mig.config": "all-3g.40gb",
                "nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe-MIG-3g.40gb",
                "nvidia.com/gpu.sharing-strategy": "none",
            },
            2,
        )
    )
    assert not ns.signs and ns.over is None
    assert ns.isolated == (
        "MIG single strategy all-3g.40gb",
        "nvidia.com/gpu.sharing-strategy=none",
    )


def test_t4_is_not_mig_capable() -> None:
    assert share.node_sharing(_node({}, 1, sku="Standard_NC4as_T4_v3")).mig_capable is False


# ---- a check end to end over hand-built evidence -------------------------------------------


def _answer(kind: str, data: object, **params: str) -> Answer:
    return Answer(Question.of(kind, params or None), data)


def test_oom_under_load_respects_scope() -> None:
    pod = _pod(
        [
            {
                "name": "c",
                "restartCount": 1,
                "state": {"running": {"startedAt": "2026-11-27T07:31:00Z"}},
                "lastState": {
                    "terminated": {"reason": "Error", "finishedAt": "2026-11-27T07:30:04Z"}
                },
            }
        ],
        labels={"kaito.sh/workspace": "ws"},
    )
    ev = {
        "logs": _answer(
            "kubernetes.pod_logs",
            [
                {
                    "namespace": "default",
                    "pod": "ws-0",
                    "container": "c",
                    "previous": True,
                    "text": UNDER_LOAD,
                }
            ],
        ),
        "pods": _answer("kubernetes.list", [pod], resource="pods"),
    }
    inside = CheckContext(now=NOW, scope=Scope("default", "ws"))
    outside = CheckContext(now=NOW, scope=Scope("other"))
    assert memory.oom_under_load(ev, None, inside).verdict == Verdict.CONFIRMED
    assert memory.oom_under_load(ev, None, outside).verdict == Verdict.RULED_OUT
    assert memory.oom_at_load(ev, None, inside).verdict == Verdict.RULED_OUT
