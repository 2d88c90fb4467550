"""Yearly report time for a busy year (run by hand, not a test).

    python bench/bench_report.py [--cases 500 5000]

Builds that many cases in memory (aware across the reporting year, each with its notification,
rapid review and, for one in five, an LCSPR, some late), then times the pure figures
(bot/core/report.py) and each renderer. The DfE counted 338 notifications in England in the
2024-25 reporting year (shared/domain-facts.md), so 500 is more than any one partnership has.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.report import (
    Period,
    ReportCase,
    ReportMilestone,
    ReportStep,
    StepRule,
    compute_report,
)
from handlers.report import render
from scheduler.calendar import WorkingCalendar
from scheduler.timescales import load_timescales

YEAR = Period(date(2025, 4, 1), date(2026, 3, 31))


def cases(count: int, calendar: WorkingCalendar) -> list[ReportCase]:
    made = []
    for i in range(count):
        aware = YEAR.start + timedelta(days=i * 365 // count)
        notified = calendar.add_working_days(aware, 3 + i % 5)
        sent = calendar.add_working_days(aware, 12 + i % 7)
        steps = [
            ReportStep("panel_notification", "Notify", calendar.add_working_days(aware, 5), "met",
                       "la_aware", aware, notified),
            ReportStep("rapid_review", "Rapid review", calendar.add_working_days(aware, 15), "met",
                       "partners_aware", aware, sent),
        ]
        milestones = [ReportMilestone("panel_notified", notified),
                      ReportMilestone("rapid_review_sent", sent, "late: panel meeting moved" if i % 7 > 3 else None)]
        made.append(ReportCase(f"SCP-2025-{i:04d}", "default", "open", aware, "notify", None,
                               tuple(milestones), tuple(steps)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, nargs="+", default=[500, 5000])
    args = parser.parse_args()
    calendar = WorkingCalendar()
    rules = [StepRule(t.key, t.label, t.rule.kind, t.rule.amount, t.basis.value, t.source.cite(),
                      tuple(m.value for m in (t.met_by, *t.met_by_any))) for t in load_timescales()]
    for count in args.cases:
        built = cases(count, calendar)
        start = time.perf_counter()
        report = compute_report(built, YEAR, rules, calendar)
        figures = time.perf_counter() - start
        timings = []
        for fmt in ("json", "csv", "html"):
            start = time.perf_counter()
            text = render(report, fmt)
            timings.append(f"{fmt} {time.perf_counter() - start:.2f}s ({len(text) // 1024} KiB)")
        print(f"{count} cases: figures {figures:.2f}s; " + "; ".join(timings))


if __name__ == "__main__":
    main()
