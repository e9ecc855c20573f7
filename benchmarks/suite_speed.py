"""The test suite's speed on SQLite: this checkout against a baseline commit, side by side in one run.

    .venv/bin/python benchmarks/suite_speed.py [--baseline 66f0afc] [--runs 1]

The baseline is checked out into a temporary git worktree and run with the same interpreter and packages. For
each, prints the wall time of ``pytest --durations=0`` and the summed set-up, call and teardown durations (pytest's
own figures; set-up's share is what fixtures cost), then the ratios. Redis and PostgreSQL are not used.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DURATION = re.compile(r"^([0-9.]+)s (setup|call|teardown)\s", re.M)


def run_suite(checkout: Path) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "CI")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
                           "--durations-min=0"], cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    figures = {"wall": wall, "setup": 0.0, "call": 0.0, "teardown": 0.0}
    for seconds, phase in DURATION.findall(done.stdout):
        figures[phase] += float(seconds)
    figures["summed"] = figures["setup"] + figures["call"] + figures["teardown"]
    print(f"  {checkout.name}: {summary}")
    for line in done.stdout.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            print(f"    {line}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="66f0afc", help="the commit to compare with (before the change)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / f"baseline-{args.baseline}"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-f", "-d", "translations"],
                           cwd=baseline, capture_output=True)
            print("running the suites (baseline first)…")
            before = run_suite(baseline)
            after = run_suite(ROOT)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)
    print(f"{'':12}{'baseline':>12}{'this':>12}{'ratio':>8}")
    for key in ("wall", "summed", "setup", "call", "teardown"):
        ratio = after[key] / before[key] if before[key] else float("nan")
        print(f"{key:12}{before[key]:11.1f}s{after[key]:11.1f}s{ratio:8.2f}")
    for name, figures in (("baseline", before), ("this", after)):
        print(f"set-up share of the summed durations, {name}: {figures['setup'] / figures['summed']:.0%}")
    print(f"wall time saved: {1 - after['wall'] / before['wall']:.0%}")


if __name__ == "__main__":
    main()
