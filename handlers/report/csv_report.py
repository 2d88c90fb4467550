"""``report --format csv``: one row per case and step due in the period, for the partnership's
own analysis in a spreadsheet.

A cell a spreadsheet would read as a formula (starting ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return) is prefixed with an apostrophe: recorded reasons are typed by people, and a
reason must never run as a formula when the file is opened (OWASP, "CSV injection").
"""

from __future__ import annotations

import csv
import io

from bot.core.report import Report

COLUMNS = (
    "reference", "step", "label", "counts_from", "anchor_on", "due", "completed_on", "outcome",
    "working_days", "working_days_late", "reason",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for o in sorted(report.outcomes, key=lambda o: (o.reference, o.due, o.key)):
        writer.writerow(_cell(v) for v in (
            o.reference, o.key, o.label, o.counts_from, o.anchor_on.isoformat(), o.due.isoformat(),
            o.completed_on.isoformat() if o.completed_on else None, o.outcome, o.working_days,
            o.working_days_late, o.reason,
        ))
    return out.getvalue()
