from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


def scenario_dirs() -> list[Path]:
    return sorted(p.parent for p in SCENARIOS.rglob("expect.yaml"))


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """One throwaway certificate authority for every loopback TLS emulator in the run."""
    return trustme.CA()


@pytest.fixture(scope="session")
def catalog():
    from bot.engine.loader import load_catalog

    return load_catalog()


@pytest.fixture
def run_cli(capsys):
    """Run `gpubot ...` in-process; returns (exit code, stdout, stderr)."""
    from bot.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def diagnose_json(run_cli):
    def run(snapshot: Path, *extra: str) -> dict:
        code, out, err = run_cli(
            "diagnose", "--snapshot", str(snapshot), "--format", "json", "--no-progress", *extra
        )
        assert code == 0, err
        return json.loads(out)

    return run


def _postgres_url(name: str) -> str:
    import os

    base = os.environ.get("GPUBOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh database per test: a SQLite file, or a PostgreSQL database created and dropped."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gpubot.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    name = f"gpubot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_postgres_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _postgres_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
