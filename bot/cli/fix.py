"""`gpubot fix plan|apply|approve|reject|cancel|undo|verify`: guarded fixes from a terminal.

The same guard as the Slack buttons (bot.engine.guard), acting as the local operator
`local:NAME` (GPUBOT_OPERATOR, else `fixes.operator`, else the login name), who needs a place in
`fixes.allow` like any Slack user. Exit 0 when the step happened, 1 when the guard refused it
or the write failed (the reason is audited and printed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_NOT_DONE = 0, 1
_OPERATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,56}")
_REQUEST_ID = re.compile(r"[0-9a-f]{8,32}")


def _source_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--snapshot", metavar="DIR", type=Path, help="plan from a snapshot")
    where.add_argument("--demo", action="store_true", help="plan from the demo snapshot")
    where.add_argument(
        "--config", type=Path, metavar="FILE", help="live: configuration file (or GPUBOT_CONFIG)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _target(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def add_parser(sub: Any) -> None:
    fix = sub.add_parser(
        "fix",
        help="plan, apply, approve, undo and verify a guarded fix from the terminal",
        description="Every step goes through the same guard as Slack's buttons: who may "
        "(fixes.allow), a second person for high risk, exactly once, audited (gpubot audit). "
        "--snapshot/--demo plan only; --config (or GPUBOT_CONFIG) acts on the live cluster.",
    )
    steps = fix.add_subparsers(dest="step", metavar="STEP")
    steps.required = True
    for name, text in (
        ("plan", "show what FIX would change (nothing is written)"),
        ("apply", "show the plan, ask, then apply it (high risk: request approval)"),
    ):
        step = steps.add_parser(name, help=text, description=text)
        step.add_argument("fix", metavar="FIX", help="fix id (gpubot playbooks list)")
        step.add_argument("--cluster", metavar="NAME", help="live: which configured cluster")
        step.add_argument(
            "--target",
            action="extend",
            nargs="+",
            type=_target,
            default=[],
            metavar="KEY=VALUE",
            help="the fix's parameters, e.g. --target namespace=kaito-ws "
            "workload=statefulset/workspace-llama replicas=1",
        )
        step.add_argument("--playbook", metavar="ID", help="the playbook verify re-runs")
        step.add_argument("--workspace", metavar="NS/NAME", help="the scope verify re-runs it in")
        if name == "apply":
            step.add_argument("--yes", action="store_true", help="do not ask before applying")
        _source_options(step)
        step.set_defaults(handler=cmd_plan if name == "plan" else cmd_apply)
    for name, text in (
        ("approve", "approve (and so apply) a high-risk request someone else made"),
        ("reject", "reject a request awaiting approval (or withdraw your own)"),
        ("cancel", "drop a plan nobody confirmed"),
        ("undo", "plan restoring an applied fix's before-state, ask, then apply it"),
        ("verify", "re-run the playbook until the symptom is gone or the window ends"),
    ):
        step = steps.add_parser(name, help=text, description=text)
        step.add_argument("request_id", metavar="REQUEST_ID")
        if name == "undo":
            step.add_argument("--yes", action="store_true", help="do not ask before applying")
        _source_options(step)
        step.set_defaults(handler=cmd_request)


# ---- wiring ------------------------------------------------------------------------------


def operator(policy: Any) -> Any:
    from bot.cli.main import Usage
    from bot.model.fixpolicy import Actor

    try:
        name = os.environ.get("GPUBOT_OPERATOR") or policy.operator or getpass.getuser()
    except (KeyError, OSError) as exc:  # no login name (a container without a passwd entry)
        raise Usage("no operator name: set GPUBOT_OPERATOR or fixes.operator") from exc
    name = name.removeprefix("local:")
    if not _OPERATOR.fullmatch(name):
        raise Usage(f"operator name {name[:60]!r}: letters, digits, . _ @ - (at most 57)")
    return Actor(f"local:{name}", via="cli")


def _guard(args: argparse.Namespace) -> Any:
    from bot.cli.wiring import diagnoser_for, guard_for

    return guard_for(args, diagnoser_for(args))


def _params(fix: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The targets as the fix's parameters, validated here so a typo is bad input (exit 2)."""
    from pydantic import ValidationError

    from bot.cli.main import Usage
    from bot.model.fixes import FIXES

    spec = FIXES.get(fix)
    if spec is None:
        raise Usage(f"unknown fix {fix[:64]!r} (known: {', '.join(FIXES)})")
    keys = [k for k, _ in pairs]
    if dupes := sorted({k for k in keys if keys.count(k) > 1}):
        raise Usage(f"--target {dupes[0]} given more than once")
    params = {k.replace("-", "_"): v for k, v in pairs}
    try:
        return spec.params.model_validate(params).model_dump(exclude_unset=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or fix
        raise Usage(f"--target {where}: {err['msg']}") from exc


def _print(args: argparse.Namespace, outcome: Any) -> int:
    from bot.cli.fix_output import next_steps, outcome_json, outcome_text

    if args.json:
        sys.stdout.write(outcome_json(outcome))
    elif outcome.ok:
        sys.stdout.write(outcome_text(outcome))
        for line in next_steps(outcome):
            print(line, file=sys.stderr)
    else:
        print(f"gpubot: {outcome.status}: {outcome.message}", file=sys.stderr)
    return EXIT_OK if outcome.ok else EXIT_NOT_DONE


def _ask(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


# ---- commands ----------------------------------------------------------------------------


def _scope(args: argparse.Namespace) -> str | None:
    """--workspace NS/NAME as the request's scope (what verify re-runs the playbook on)."""
    from bot.cli.main import Usage, _workspace

    if not args.workspace:
        return None
    try:
        ns, ws = _workspace(args.workspace)
    except argparse.ArgumentTypeError as exc:
        raise Usage(f"--workspace: {exc}") from exc
    return f"{ns}/{ws}" if ws else ns


def _plan(args: argparse.Namespace, params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(guard, operator, planned outcome); bad input fails before anything is opened."""
    from bot.cli.main import Usage

    scope = _scope(args)
    guard = _guard(args)
    if args.playbook and args.playbook not in guard.diagnoser.catalog.playbooks:
        raise Usage(f"--playbook: unknown playbook {args.playbook!r}")
    actor = operator(guard.policy)
    planned = guard.plan(
        cluster=guard.diagnoser.sources(args.cluster).cluster.name,
        fix=args.fix,
        params=params,
        actor=actor,
        playbook=args.playbook,
        scope=scope,
    )
    return guard, actor, planned


def cmd_plan(args: argparse.Namespace) -> int:
    _, _, planned = _plan(args, _params(args.fix, args.target))
    return _print(args, planned)


def cmd_apply(args: argparse.Namespace) -> int:
    guard, actor, planned = _plan(args, _params(args.fix, args.target))
    return _confirm_planned(args, guard, actor, planned)


def _confirm_planned(args: argparse.Namespace, guard: Any, actor: Any, planned: Any) -> int:
    """Show the plan, ask unless --yes, then confirm it through the guard."""
    from bot.cli.fix_output import outcome_text

    if planned.status != "planned":
        return _print(args, planned)
    if not args.json:
        sys.stderr.write(outcome_text(planned))
    # A plan that cannot be applied here (a snapshot) goes straight to the guard's refusal.
    if planned.buttons and not args.yes and not _ask("Apply this plan?"):
        print("gpubot: not applied (the answer was not yes); the plan expires", file=sys.stderr)
        return EXIT_NOT_DONE
    return _print(args, guard.confirm_request(planned.request.id, actor))


def cmd_request(args: argparse.Namespace) -> int:
    from bot.cli.main import Usage

    request_id = args.request_id.strip().lower()
    if not _REQUEST_ID.fullmatch(request_id):
        raise Usage(f"{args.request_id[:40]!r} is not a request id (gpubot audit lists them)")
    guard = _guard(args)
    if guard.ledger.request(request_id) is None:
        raise Usage(f"no fix request {request_id} in this store (gpubot audit lists them)")
    actor = operator(guard.policy)
    if args.step == "verify":
        outcome = guard.verify(request_id)
        _print(args, outcome)
        return EXIT_OK if outcome.status == "verified" else EXIT_NOT_DONE
    if args.step == "undo":
        return _confirm_planned(args, guard, actor, guard.undo_request(request_id, actor))
    press = {
        "approve": guard.approve_request,
        "reject": guard.reject_request,
        "cancel": guard.cancel_request,
    }[args.step]
    return _print(args, press(request_id, actor))
