"""Start-up time of the ``safeguard-bot`` command line, measured as whole processes.

A person types ``safeguard-bot deadlines …`` and waits for the interpreter, the imports and the
answer; that is what is timed here, not a function inside a warm interpreter. Each command runs
``--runs`` times (after one warm-up run that fills the bytecode cache and, for ``case list``,
creates and migrates the database) and the median wall-clock time is printed, with the fastest
and slowest run, because a shared machine is noisy and one run says little.

    python bench/bench_startup.py                  # this checkout
    python bench/bench_startup.py --root /tmp/before --root .   # before and after, paired
    python bench/bench_startup.py --runs 21 --json

``--root`` puts that checkout first on PYTHONPATH, so two trees can be compared with the same
interpreter and packages; given twice, the two take turns run by run (paired), which is what a
noisy shared machine needs. For where the time goes: ``python -X importtime -m bot deadlines --aware 2026-12-22``.
Run by hand; never a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "deadlines": ["deadlines", "--aware", "2026-12-22"],
    "criteria": ["criteria", "--answer", "harm=died", "--aware", "2026-12-22"],
    "case list": ["case", "list"],
}


def _environment(root: Path | None, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env["SAFEGUARD_DATA_DIR"] = str(data_dir)  # a fresh SQLite file: the embedded default
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(root.resolve()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _once(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall-clock, CPU user+system) seconds of one run. CPU time is what /usr/bin/time calls
    user+sys: on a loaded machine it moves far less than wall-clock time, which includes waiting
    for a CPU, so it is the steadier figure for comparing two checkouts."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(roots: list[Path | None], runs: int, only: list[str] | None) -> dict[str, dict[str, dict[str, float]]]:
    """{command: {checkout: {median, min, max, cpu_median}}}. The checkouts take turns run by run, so a
    burst of load on a shared machine falls on all of them rather than on one."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="sgb-bench-") as scratch:
        cwd = Path(scratch)
        envs = {_label(root): _environment(root, cwd / f"data-{i}") for i, root in enumerate(roots)}
        commands = {"python -c pass": None, **{n: a for n, a in COMMANDS.items() if not only or n in only}}
        for name, argv in commands.items():
            command = [sys.executable, "-c", "pass"] if argv is None else [sys.executable, "-m", "bot", *argv]
            for env in envs.values():  # warm-up: bytecode cache; the database created and migrated
                _once(command, env, cwd)
            times: dict[str, list[tuple[float, float]]] = {label: [] for label in envs}
            for _ in range(runs):
                for label, env in envs.items():
                    times[label].append(_once(command, env, cwd))
            results[name] = {label: _summary(values) for label, values in times.items()}
    return results


def _label(root: Path | None) -> str:
    return str(root) if root is not None else "installed"


def _cell(figures: dict[str, float]) -> str:
    return f"{figures['median']:.3f} ({figures['min']:.3f}-{figures['max']:.3f}) cpu {figures['cpu_median']:.3f}"


def _summary(runs: list[tuple[float, float]]) -> dict[str, float]:
    wall = [w for w, _ in runs]
    return {
        "median": statistics.median(wall), "min": min(wall), "max": max(wall),
        "cpu_median": statistics.median(c for _, c in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, action="append", default=None,
                        help="checkout to measure; repeat to compare, runs interleaved (default: installed)")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--only", action="append", choices=sorted(COMMANDS), help="measure only these")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    args = parser.parse_args()
    roots: list[Path | None] = list(args.root) if args.root else [None]
    results = measure(roots, args.runs, args.only)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"safeguard-bot start-up, {args.runs} runs each, wall clock in seconds: median (min-max), and median CPU user+sys")
    labels = [_label(root) for root in roots]
    for i, label in enumerate(labels, start=1):
        print(f"  [{i}] {label}")
    print(f"  {'':<16}" + "".join(f"{f'[{i}]':>34}" for i in range(1, len(labels) + 1)))
    for name, by_root in results.items():
        cells = "".join(f"{_cell(by_root[label]):>34}" for label in labels)
        print(f"  {name:<16}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
