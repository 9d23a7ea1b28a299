"""The atheris harnesses in fuzz/ keep working: each runs as its own process for a bounded
number of inputs (seed corpus first, so every crash input found so far is replayed) and must
exit 0. `make fuzz` runs them for minutes; docs/reliability.md, "Coverage-guided fuzzing".

atheris is a dev dependency: if it cannot be imported this file fails at collection, loudly,
instead of skipping."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import atheris  # noqa: F401  (fail loudly when the dev extra is missing)
import pytest

from tests.conftest import ROOT

FUZZ = ROOT / "fuzz"
TARGETS = ["jsonstream", "commands", "alerts", "tokens", "kql"]
RUNS = 10_000
HANG_GUARD_S = 180  # generous: a slow shared machine, not a speed measurement


def _harness(name: str):
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", FUZZ / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target", TARGETS)
def test_harness_runs_clean_for_a_bounded_number_of_inputs(target: str, tmp_path: Path) -> None:
    seeds = FUZZ / "corpus" / target
    args = [sys.executable, str(FUZZ / f"{target}.py"), f"-runs={RUNS}", "-seed=1"]
    args += ["-timeout=30", f"-artifact_prefix={tmp_path}/", str(tmp_path / "corpus")]
    (tmp_path / "corpus").mkdir()
    if seeds.is_dir():
        args.append(str(seeds))
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=HANG_GUARD_S, cwd=ROOT, check=False
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert f"Done {RUNS} runs" in log, log[-3000:]
    # The harness reached our code: atheris counts coverage of the instrumented bot modules.
    coverage = [int(c) for c in re.findall(r"cov: (\d+)", log)]
    assert coverage and max(coverage) >= 5, log[-3000:]
    if seeds.is_dir():
        count = len([p for p in seeds.iterdir() if p.is_file()])
        assert f"{count} files found in {seeds}" in log, log[-3000:]
    assert not list(tmp_path.glob("crash-*")), "a crash input was written"


def test_jsonstream_oracle_catches_a_decoder_that_disagrees_with_json_loads() -> None:
    from bot.sources.jsonstream import walk_list

    check = _harness("jsonstream").check
    check(b'{"kind": "PodList", "items": [1, {"a": 2}]}')  # the real decoder agrees

    def accepts_extra_data(body, on_item):  # the bug fuzz/jsonstream.py found
        return walk_list(body.split(b"}", 1)[0] + b"}", on_item)

    def drops_items(body, on_item):
        return walk_list(body, lambda item: None)

    with pytest.raises(AssertionError, match="must refuse"):
        check(b"{} x", accepts_extra_data)
    with pytest.raises(AssertionError, match="items differ"):
        check(b'{"items": [1]}', drops_items)


def test_tokens_oracle_catches_a_signer_that_accepts_what_it_did_not_sign() -> None:
    harness = _harness("tokens")

    class Lenient:
        def open(self, value):
            return value.split(".")[1]

        sign = harness.SIGNER.sign

    harness.check_opened(harness.SIGNER, "gpf1.tok.forged")  # the real signer refuses
    with pytest.raises(AssertionError, match="did not sign"):
        harness.check_opened(Lenient(), "gpf1.tok.forged")
