"""Run a command and report its own peak RSS and start time: a small launcher between the
benchmark and the process it measures.

    python -m bench.rss REPORT.json -- python -m bot diagnose --config gpubot.yaml

Linux carries a process's pre-exec high-water mark across exec, so `ru_maxrss` of a child
forked straight from the benchmark (which holds the emulated cluster) counts the benchmark's
pages: a CLI that peaked at 460 MB read 920 MB at 30,000 pods. This launcher is small when it
forks, so the number it reports is the command's own. stdout and stderr pass through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    report, sep, command = argv[0], argv[1], argv[2:]
    if sep != "--" or not command:
        raise SystemExit("usage: python -m bench.rss REPORT.json -- COMMAND...")
    start = time.monotonic()
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    Path(report).write_text(
        json.dumps({"start": start, "rss_mb": usage.ru_maxrss / 1024, "returncode": code})
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
