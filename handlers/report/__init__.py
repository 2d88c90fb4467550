"""The yearly report's renderers: HTML (with inline SVG charts), CSV and JSON.

Each takes the figures bot/core/report.py computed and only lays them out; outsiders' text
(case references, recorded reasons, step labels from a partnership's timescales file) is
escaped once, here, for the target it is written to.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("html", "csv", "json")


def render(report: Any, fmt: str) -> str:
    """The report as text in ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        from handlers.report.json_report import render_json

        return render_json(report)
    if fmt == "csv":
        from handlers.report.csv_report import render_csv

        return render_csv(report)
    if fmt == "html":
        from handlers.report.html_report import render_html

        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; expected one of: {', '.join(FORMATS)}")


__all__ = ["FORMATS", "render"]
