"""Issue 6 acceptance: the install the Dockerfile makes (a wheel into a fresh virtualenv) runs
`gpubot diagnose --demo` from an unrelated directory, finding its playbooks in the package.

No Docker engine runs here, so this builds the same thing the Dockerfile's build stage does.
Dependencies come from the configured package index through pip's cache; this is the one slow
test (about a minute or two on a cold cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.conftest import ROOT


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, *, stderr: bool = False
) -> str:
    """stdout (with stderr after it if asked), once the command succeeded."""
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + (done.stderr if stderr else "")


def test_wheel_in_a_fresh_virtualenv_runs_the_demo_diagnosis(tmp_path) -> None:
    wheels, env_dir, elsewhere = tmp_path / "wheels", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The Dockerfile's build context: only these are copied, so the wheel holds nothing else
    # (and the build leaves no build/ or *.egg-info in the checkout).
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("bot", "playbooks", "runbooks"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "--wheel-dir", str(wheels), "."],
        cwd=src,
        stderr=True,
    )
    assert "Building wheel for gpubot" in built, "-v shows the build backend's own output"
    assert "absent from the `packages` configuration" not in built, "setuptools warned"
    (wheel,) = wheels.glob("gpubot-*.whl")
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path)
    # A clean environment: no PYTHONPATH pointing at the checkout, no GPUBOT_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GPUBOT_"))}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run([str(py), "-c", "import bot; print(bot.__file__)"], cwd=elsewhere, env=env)
    assert Path(where.strip()).is_relative_to(env_dir), "imported the installed package"
    out = _run(
        [str(env_dir / "bin" / "gpubot"), "diagnose", "--demo", "--format", "json"],
        cwd=elsewhere,
        env=env,
    )
    doc = json.loads(out)
    assert doc["findings"], "the demo diagnosis found its playbooks and ran them"
    _run([str(env_dir / "bin" / "gpubot"), "playbooks", "lint"], cwd=elsewhere, env=env)
    # What the image's entrypoint (`gpubot serve`) imports: every subpackage made the wheel.
    serving = (
        "import bot.cli.serve, bot.slack.app, bot.slack.web, bot.sources.actuators, bot.logctx"
    )
    _run([str(py), "-c", serving], cwd=elsewhere, env=env)
