"""The yearly report's charts, as inline SVG (matplotlib's object API: no pyplot state, so two
reports drawn in two threads cannot draw into each other's figure).

For each duty, two panels: timeliness by quarter (on time, late, still overdue, stacked)
against its limit, and the distribution of working days taken with the limit drawn as a line.
Text stays text in the SVG (``svg.fonttype = none``): smaller, and a screen reader reads it.
"""

from __future__ import annotations

import io
import re

from matplotlib import rc_context
from matplotlib.figure import Figure

from bot.core.report import Report, StepRule

ON_TIME, LATE, OVERDUE, LIMIT = "#1b7837", "#d6604d", "#762a83", "#333333"
_RC = {"svg.fonttype": "none", "svg.hashsalt": "safeguard-bot", "font.size": 9,
       "axes.spines.top": False, "axes.spines.right": False}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    # Inline in HTML: no XML declaration or DOCTYPE; scale with the page (viewBox stays).
    text = text[text.index("<svg"):]
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%"', text, count=1)
    return text


def duty_charts(report: Report, key: str, title: str) -> tuple[str, str]:
    """Two charts for one duty (each its own SVG, so a phone shows them one under the other at
    full width): by quarter against its limit, and the working days taken."""
    return _by_quarter(report, key, title), _distribution(report, key)


def _by_quarter(report: Report, key: str, title: str) -> str:
    rule: StepRule | None = report.rules.get(key)
    quarters = report.by_quarter
    with rc_context(_RC):
        figure = Figure(figsize=(5, 3), layout="constrained")
        by_q = figure.subplots()
        names = [q.label.split(" ")[0] for q in quarters]
        on_time = [q.steps[key].on_time for q in quarters]
        late = [q.steps[key].late for q in quarters]
        overdue = [q.steps[key].open_overdue for q in quarters]
        by_q.bar(names, on_time, color=ON_TIME, label="on time")
        by_q.bar(names, late, bottom=on_time, color=LATE, label="late")
        by_q.bar(names, overdue, bottom=[a + b for a, b in zip(on_time, late, strict=True)],
                 color=OVERDUE, label="overdue, open")
        limit_text = f"limit: {rule.describe()}" if rule else "limit: not configured"
        by_q.set_title(f"{title}\nby quarter ({limit_text})", loc="left")
        by_q.set_ylabel("steps due")
        by_q.yaxis.get_major_locator().set_params(integer=True)
        by_q.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _svg(figure)


def _distribution(report: Report, key: str) -> str:
    rule: StepRule | None = report.rules.get(key)
    with rc_context(_RC):
        figure = Figure(figsize=(5, 3), layout="constrained")
        spread = figure.subplots()
        taken = report.total.steps[key].working_days
        if taken:
            top = max(max(taken), rule.amount if rule else 0)
            step = max(1, (top + 1) // 20)
            spread.hist(taken, bins=list(range(0, top + step + 1, step)), color="#4393c3", edgecolor="white")
        else:
            spread.text(0.5, 0.5, "none completed", ha="center", va="center", transform=spread.transAxes)
        if rule is not None and rule.kind != "calendar_months_after":
            spread.axvline(rule.amount, color=LIMIT, linestyle="--", linewidth=1.5)
            where = "at least" if rule.backward else "limit"
            spread.annotate(f"{where} {rule.amount}", (rule.amount, 1), xycoords=("data", "axes fraction"),
                            xytext=(3, -10), textcoords="offset points", fontsize=8)
        backward = rule is not None and rule.backward
        spread.set_xlabel("working days before publication" if backward else "working days taken")
        spread.set_ylabel("steps")
        spread.yaxis.get_major_locator().set_params(integer=True)
        spread.set_title("Working days, whole period", loc="left")
        return _svg(figure)
