"""The test suite's speed on SQLite: this checkout against a baseline commit, side by side in one run.

    .venv/bin/python benchmarks/suite_speed.py [--baseline 66f0afc]
    .venv/bin/python benchmarks/suite_speed.py --make-test [--baseline 41f8b6e]

The baseline is checked out into a temporary git worktree and run with the same interpreter and packages. For
each, prints the wall time of ``pytest --durations=0`` (one process, SQLite) and the summed set-up, call and
teardown durations (pytest's own figures; set-up's share is what fixtures cost), then the ratios. Redis and
PostgreSQL are not used.

``--make-test`` times what CI runs instead: each checkout's own ``scripts/test.sh`` (SQLite, then PostgreSQL at
TEST_PG_URL, with Redis when it answers), as wall time and the CPU time of its processes.
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


def run_test_command(checkout: Path) -> dict[str, float]:
    """The checkout's ``scripts/test.sh`` with this checkout's venv: wall time and its children's CPU time."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env["VENV"] = str(ROOT / ".venv")
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(["bash", "scripts/test.sh"], cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    lines = [line for line in done.stdout.splitlines() if re.search(r"(passed|failed).* in [0-9.]+s", line)]
    print(f"  {checkout.name}: exit {done.returncode}; " + " | ".join(line.strip("= ") for line in lines))
    return {"wall": wall, "cpu": (after.children_user - before.children_user)
            + (after.children_system - before.children_system)}


def compare_test_commands(baseline: Path) -> None:
    print("running each checkout's scripts/test.sh (baseline first)…")
    before = run_test_command(baseline)
    after = run_test_command(ROOT)
    print(f"{'':12}{'baseline':>12}{'this':>12}{'ratio':>8}")
    for key in ("wall", "cpu"):
        print(f"{key:12}{before[key]:11.1f}s{after[key]:11.1f}s{after[key] / before[key]:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="the commit to compare with (before the change)")
    parser.add_argument("--make-test", action="store_true", help="time scripts/test.sh, both databases")
    args = parser.parse_args()
    args.baseline = args.baseline or ("41f8b6e" if args.make_test else "66f0afc")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / f"baseline-{args.baseline}"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-f", "-d", "translations"],
                           cwd=baseline, capture_output=True)
            if args.make_test:
                compare_test_commands(baseline)
                return
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
