"""Forms parsed per second, per fixture kind (run by hand: ``python bench/bench_parse.py``).

Builds the fictional fixtures in memory, then times ``parse_referral`` on each for a fixed
number of rounds. Not a pass/fail test: the figures go in the release note.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.referral import ReferralRejected, parse_referral  # noqa: E402
from tests.fixtures import build_referrals as fx  # noqa: E402


def bench(rounds: int = 30) -> None:
    rows = []
    total_forms, total_time = 0, 0.0
    for name, (ext, make) in {**fx.GOOD, **fx.HOSTILE}.items():
        data = make()
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            try:
                parse_referral(data, f"{name}{ext}")
            except ReferralRejected:
                pass
            timings.append(time.perf_counter() - started)
        median = statistics.median(timings)
        rows.append((name, len(data), median))
        if name in fx.GOOD:
            total_forms += rounds
            total_time += sum(timings)
    print(f"{'fixture':32} {'bytes':>9} {'median ms':>10} {'per s':>8}")
    for name, size, median in rows:
        print(f"{name:32} {size:9d} {median * 1000:10.2f} {1 / median:8.0f}")
    print(f"\nreadable forms overall: {total_forms / total_time:.0f} forms/s "
          f"({total_forms} parses of {len(fx.GOOD)} fixtures, single process)")


if __name__ == "__main__":
    bench(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
