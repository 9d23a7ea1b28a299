"""Rewrite every scenario snapshot: `python -m tests.scenarios.builder [--check]`."""

from __future__ import annotations

import sys

from tests.scenarios.builder.catalog import ROOT, build_all, compare_all


def main(argv: list[str]) -> int:
    if "--check" in argv:
        drift = compare_all()
        for line in drift:
            print(line)
        return 1 if drift else 0
    for path in build_all():
        print(f"wrote {ROOT.name}/{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
