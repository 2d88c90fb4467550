"""Worst-case parse time of the hostile corpus (run by hand: ``python bench/bench_hostile_parse.py``).

One hostile mail must not hold up the next referral on the intake thread, so what matters is the
slowest refusal, not the average. Builds every fixture in ``tests/fixtures/build_referrals.HOSTILE``
in memory, then times ``handlers.referral.parse_referral`` (what the intake pipeline calls) on
each, ``ROUNDS`` times, and reports per fixture the slowest wall-clock time (the time the intake
thread is held), the time a normal Word form then takes (what the next referral waits for, e.g.
a reader process restarted after a kill) and the reason given; then the worst case over the
corpus. Not a
pass/fail test: the figures go in the release note and the README.

    python bench/bench_hostile_parse.py [ROUNDS] [NAME ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handlers.referral import ReferralRejected, parse_referral  # noqa: E402
from tests.fixtures import build_referrals as fx  # noqa: E402


def bench(rounds: int = 3, names: list[str] | None = None) -> None:
    chosen = names or list(fx.HOSTILE)
    normal = fx.tees_docx("content_control")
    parse_referral(normal, "warm-up.docx")  # start-up costs are not the form's
    print(f"{'fixture':34} {'bytes':>10} {'worst s':>8} {'next s':>7}  outcome")
    worst = ("", 0.0, 0.0)
    for name in chosen:
        ext, make = fx.HOSTILE[name]
        data = make()
        slowest, after, outcome = 0.0, 0.0, ""
        for _ in range(rounds):
            started = time.perf_counter()
            try:
                parse_referral(data, f"{name}{ext}")
                outcome = "accepted (!)"
            except ReferralRejected as exc:
                outcome = exc.reason
            slowest = max(slowest, time.perf_counter() - started)
            started = time.perf_counter()
            parse_referral(normal, "next.docx")
            after = max(after, time.perf_counter() - started)
        if slowest + after > worst[1] + worst[2]:
            worst = (name, slowest, after)
        print(f"{name:34} {len(data):10d} {slowest:8.2f} {after:7.2f}  {outcome[:80]}", flush=True)
    print(f"\nworst case: {worst[0]}: refused in {worst[1]:.2f} s, the next form then read in "
          f"{worst[2]:.2f} s ({len(chosen)} fixtures, {rounds} rounds each)")


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args.pop(0)) if args and args[0].isdigit() else 3
    bench(count, args or None)
