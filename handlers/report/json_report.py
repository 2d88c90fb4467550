"""``report --format json``: the issue's contract (bot.core.report.Report.as_json)."""

from __future__ import annotations

import json

from bot.core.report import Report


def render_json(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"
