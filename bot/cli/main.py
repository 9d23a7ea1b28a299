"""`gpubot`: diagnose a snapshot (or a live cluster); lint and test playbooks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot import __version__

EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT = 0, 1, 2


class Usage(Exception):
    """A bad argument: print one line and exit 2."""


def _threshold(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), value.strip()


def _workspace(text: str) -> tuple[str, str | None]:
    import re

    part = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    if not re.fullmatch(rf"{part}(/{part})?", text) or len(text) > 253:
        raise argparse.ArgumentTypeError(
            f"expected NAMESPACE/WORKSPACE (Kubernetes names), got {text!r}"
        )
    ns, _, ws = text.partition("/")
    return ns, ws or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpubot",
        description="Differential diagnosis for GPU workloads and KAITO inference on AKS.",
    )
    parser.add_argument("--version", action="version", version=f"gpubot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    diag = sub.add_parser(
        "diagnose",
        help="run every symptom playbook and print a differential diagnosis",
        description="Run a runbook's playbooks (default: triage, all 14 rows and extras) and print "
        "each finding confirmed, ruled out or inconclusive with the evidence it read. "
        "Exit 0 when a "
        "diagnosis was produced (see --fail-on), 2 on bad input.",
    )
    where = diag.add_mutually_exclusive_group()
    where.add_argument("--snapshot", metavar="DIR", type=Path, help="diagnose a snapshot directory")
    where.add_argument(
        "--demo", action="store_true", help="diagnose the demo snapshot bundled with gpubot"
    )
    where.add_argument(
        "--config", type=Path, metavar="FILE", help="live: configuration file (or GPUBOT_CONFIG)"
    )
    diag.add_argument("--cluster", metavar="NAME", help="live: which configured cluster")
    diag.add_argument(
        "--workspace",
        metavar="NS/NAME",
        type=_workspace,
        help="limit workload rows to one workspace",
    )
    diag.add_argument("--format", choices=("text", "json", "slack"), default="text")
    diag.add_argument("--runbook", default="triage", help="runbook id (triage, morning-readiness)")
    diag.add_argument("--playbook", action="append", metavar="ID", help="run only these playbooks")
    diag.add_argument(
        "--fail-on",
        choices=("confirmed", "inconclusive"),
        help="exit 1 if any finding is confirmed (or, with inconclusive, not ruled out)",
    )
    diag.add_argument(
        "--threshold",
        action="append",
        type=_threshold,
        default=[],
        metavar="NAME=VALUE",
        help="override a verdict threshold, e.g. stuck_minutes=15 (see README)",
    )
    diag.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    diag.add_argument(
        "--playbooks-dir", type=Path, help="load playbooks from this directory instead"
    )
    diag.add_argument("--runbooks-dir", type=Path, help="load runbooks from this directory instead")
    from bot.cli import collect, doctor, morning, serve

    serve.add_log_options(diag, fmt="text", level="warning")
    diag.set_defaults(handler=cmd_diagnose)

    serve.add_parser(sub)
    morning.add_parser(sub)
    collect.add_parser(sub)
    doctor.add_parser(sub)

    pb = sub.add_parser("playbooks", help="lint, test, list playbooks; print their JSON Schema")
    pbsub = pb.add_subparsers(dest="action", metavar="ACTION")
    pbsub.required = True
    lint = pbsub.add_parser("lint", help="validate every playbook and runbook")
    lint.add_argument("--playbooks-dir", type=Path)
    lint.add_argument("--runbooks-dir", type=Path)
    lint.set_defaults(handler=cmd_lint)
    test = pbsub.add_parser("test", help="run playbook test cases (promtool-style)")
    test.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="*.test.yaml files or folders (default: tests/playbooks)",
    )
    test.add_argument("--run", metavar="REGEX", help="only test cases whose name matches")
    test.add_argument(
        "--coverage",
        action="store_true",
        help="fail unless every confirm step is seen confirmed and not confirmed",
    )
    test.add_argument("--playbooks-dir", type=Path)
    test.add_argument("--runbooks-dir", type=Path)
    test.set_defaults(handler=cmd_test)
    listing = pbsub.add_parser("list", help="list playbooks, checks and fixes")
    listing.set_defaults(handler=cmd_list)
    schema = pbsub.add_parser(
        "schema", help="print the JSON Schema of the playbook (or runbook) format"
    )
    schema.add_argument("--runbook", action="store_true")
    schema.set_defaults(handler=cmd_schema)
    return parser


def _catalog(args: argparse.Namespace) -> Any:
    from bot.engine.loader import load_catalog

    return load_catalog(getattr(args, "playbooks_dir", None), getattr(args, "runbooks_dir", None))


def _thresholds(pairs: list[tuple[str, str]]) -> Any:
    from pydantic import ValidationError

    from bot.model.thresholds import Thresholds

    try:
        return Thresholds.model_validate(dict(pairs))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Usage(f"--threshold {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc


def cmd_diagnose(args: argparse.Namespace) -> int:
    from bot.cli.progress import Progress
    from bot.cli.wiring import diagnoser_for
    from bot.model.context import Scope

    thresholds = _thresholds(args.threshold) if args.threshold else None
    diagnoser = diagnoser_for(args, thresholds=thresholds)
    catalog = diagnoser.catalog
    runbook = catalog.runbook(args.runbook)
    ids = runbook.playbooks
    if args.playbook:
        unknown = [p for p in args.playbook if p not in catalog.playbooks]
        if unknown:
            raise Usage(f"--playbook: unknown playbook {unknown[0]!r}")
        ids = args.playbook
    scope = Scope(*args.workspace) if args.workspace else Scope()
    with Progress(len(ids), enabled=not args.no_progress) as progress:
        diagnosis = diagnoser.run(
            args.cluster,
            runbook=runbook.id,
            playbooks=ids,
            scope=scope,
            on_finding=progress.advance,
        )
    sys.stdout.write(_render(diagnosis, args.format))
    if args.fail_on == "confirmed" and any(f.verdict == "confirmed" for f in diagnosis.findings):
        return EXIT_FINDING
    if args.fail_on == "inconclusive" and any(f.verdict != "ruled_out" for f in diagnosis.findings):
        return EXIT_FINDING
    return EXIT_OK


def _render(diagnosis: Any, fmt: str) -> str:
    if fmt == "json":
        from bot.render import json_out

        return json_out.render(diagnosis)
    if fmt == "slack":
        from bot.render import slack

        return slack.render_json(diagnosis)
    import os

    from bot.render import text

    return text.render(diagnosis, color=sys.stdout.isatty() and "NO_COLOR" not in os.environ)


def cmd_lint(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    print(f"ok: {len(catalog.playbooks)} playbooks, {len(catalog.runbooks)} runbooks")
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from bot.testing.runner import run_paths

    paths = args.paths or [Path("tests/playbooks")]
    report = run_paths(paths, catalog=_catalog(args), name_filter=args.run, coverage=args.coverage)
    sys.stdout.write(report.text())
    return EXIT_OK if report.ok else EXIT_FINDING


def cmd_list(args: argparse.Namespace) -> int:
    from bot.checks import load_all
    from bot.model.fixes import FIXES

    catalog = _catalog(args)
    print("playbooks:")
    for p in sorted(catalog.playbooks.values(), key=lambda p: (p.spec.row or 99, p.id)):
        print(f"  {p.spec.row or '-':>2}  {p.id:<24} {p.spec.title}")
    print("runbooks:")
    for r in catalog.runbooks.values():
        print(f"  {r.id:<26} {r.title}")
    print("checks:")
    for name, spec in sorted(load_all().items()):
        print(f"  {name:<36} {spec.doc}")
    print("fixes:")
    for fix in FIXES.values():
        print(f"  {fix.id:<24} risk={fix.risk:<6} {fix.title}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from bot.engine.schema import playbook_schema, runbook_schema, to_json

    sys.stdout.write(to_json(runbook_schema() if args.runbook else playbook_schema()))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    """The command, its logs set up; a CLI run is one request (its id on every log line).
    `serve` handles many requests: each Slack command, alert and webhook gets its own id."""
    import contextlib
    import logging

    from bot import logctx

    if hasattr(args, "log_format"):
        logctx.configure(args.log_format, level=getattr(logging, args.log_level.upper()))
    trigger = "morning" if args.command == "check" else args.command
    with contextlib.nullcontext() if args.command == "serve" else logctx.request(trigger):
        return int(args.handler(args))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from bot.engine.loader import CatalogError
    from bot.sources.base import BadInput

    try:
        return _run(args)
    except (BadInput, Usage) as exc:
        print(f"gpubot: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CatalogError as exc:
        for line in exc.problems:
            print(f"gpubot: error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
