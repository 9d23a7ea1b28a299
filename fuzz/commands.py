"""Fuzz `/gpu` slash command parsing (bot/slack/commands.py `parse`).

For any text, `parse` returns a Command built from the text's own words or raises UsageError;
never another exception. A usage error never repeats a Slack mention or link (`<@U1>`,
`<!channel>`): it holds no `<` or `>` at all, and each quoted word is clipped. The configured
cluster names are operator config, not user input, so they come from a fixed list.

    python fuzz/commands.py [libFuzzer args] [corpus dirs]
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["bot"]):  # coverage of our code only
    from bot.slack.commands import K8S_TARGET, Command, UsageError, parse

CLUSTER_SETS = [[], ["gpu-prod"], ["gpu-prod", "gpu-dev"], ["aks_east-1", "x"]]
WORDS = [
    "diagnose",
    "DIAGNOSE",
    "morning",
    "help",
    "--help",
    "gpu-prod",
    "gpu-dev",
    "ns/ws",
    "ns/",
    "/",
    "a/b/c",
    "<!channel>",
    "<@U123|lena>",
    "<!subteam^S1>",
    "<https://x|y>",
    "`x`",
    "*",
]


def check(text: str, clusters: list[str]) -> None:
    try:
        command = parse(text, clusters)
    except UsageError as exc:
        message = str(exc)
        assert "<" not in message and ">" not in message, f"usage error quotes markup: {message!r}"
        assert len(message) <= 120 + sum(len(c) + 2 for c in clusters), message
        return
    assert isinstance(command, Command)
    assert command.action in ("diagnose", "morning", "help"), command
    words = text.split()
    if command.cluster is not None:
        assert command.cluster in clusters, command
    if command.namespace is not None:
        assert command.action == "diagnose" and K8S_TARGET.match(command.namespace), command
        assert any(w.startswith(command.namespace + "/") for w in words), command
    if command.action != "help":
        assert words and words[0].lower() == command.action, command


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    clusters = CLUSTER_SETS[fdp.ConsumeIntInRange(0, len(CLUSTER_SETS) - 1)]
    parts = []
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        if fdp.ConsumeBool():
            parts.append(WORDS[fdp.ConsumeIntInRange(0, len(WORDS) - 1)])
        else:
            parts.append(fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 300)))
    check(" ".join(parts), clusters)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
