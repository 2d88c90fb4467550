"""``report --format html``: one self-contained file a partnership can publish (charts inline
as SVG, no script, no external request), readable on a phone (fluid width, tables that
scroll sideways) and printable (``@media print``: no background colours, charts kept whole).

Every piece of text that did not come from this module (references, recorded reasons, step
labels and sources from the timescales file, the partnership key) goes through ``html.escape``
once, here.
"""

from __future__ import annotations

from datetime import date
from html import escape

from bot.core.report import REPORTED_STEPS, Figures, Report
from handlers.report.charts import duty_charts

TITLES = {
    "panel_notification": "Notifications to the Panel",
    "rapid_review": "Rapid reviews",
    "lcspr_publication": "LCSPR publication",
    "final_report_to_panel": "Final reports to the Panel and the Secretary of State",
    "sos_ofsted_notification": "Secretary of State and Ofsted notifications",
}
ANCHORS = {
    "partners_aware": "the safeguarding partners becoming aware",
    "panel_notified": "the notification to the Panel",
}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:60rem;
padding:1rem;line-height:1.45;color:#1a1a1a}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #ccc}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.4rem 0}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.text{text-align:left}td:first-child{white-space:nowrap}thead th{background:#f0f0f0}
.headline{display:flex;flex-wrap:wrap;gap:.5rem}.headline div{flex:1 1 9rem;border:1px solid #ccc;
border-radius:.3rem;padding:.5rem}.headline b{display:block;font-size:1.6rem}
figure{margin:.6rem 0}svg{max-width:100%;height:auto}.charts{display:flex;flex-wrap:wrap;gap:.5rem}
.charts>div{flex:1 1 20rem;min-width:0}.source{font-size:.8rem;color:#444}
@media print{body{max-width:none;padding:0}thead th{background:none}figure,table{break-inside:avoid}
h2{break-after:avoid}}
"""


def _num(value: object) -> str:
    return "&ndash;" if value is None else escape(str(value))


def _day(day: date | None) -> str:
    return day.strftime("%d %b %Y") if day else "&ndash;"


def _table(headers: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    head = "".join(f"<th scope='col'>{h}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f"<td class='text'>{c}</td>" if i < text_columns else f"<td>{c}</td>"
            for i, c in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _spans(report: Report) -> list[Figures]:
    return [*report.by_quarter, report.total]


def _cases(report: Report) -> str:
    rows = [[escape(f.label), _num(f.cases.considered), _num(f.cases.notified), _num(f.cases.not_required),
             _num(f.cases.learning_requests), _num(f.cases.withdrawn), _num(f.open_not_yet_due),
             _num(f.open_overdue)] for f in _spans(report)]
    return _table(["", "Incidents considered", "Notified to the Panel", "Notification not required",
                   "Learning requests", "Withdrawn (not counted)", "Open: not yet due", "Open: overdue"], rows)


def _duty(report: Report, key: str) -> str:
    rule = report.rules.get(key)
    rows = []
    for f in _spans(report):
        s = f.steps[key]
        late_by = ", ".join(str(n) for n in sorted(s.working_days_late)) or "&ndash;"
        rows.append([escape(f.label), _num(s.due), _num(s.on_time), _num(s.late), late_by,
                     _num(s.open_overdue), _num(s.median_working_days)])
    median = "Median working days before publication" if rule and rule.backward else "Median working days"
    parts = [f"<h2 id='{key}'>{escape(TITLES[key])}</h2>"]
    if rule is not None:
        parts.append(f"<p>Limit: {escape(rule.describe())} ({escape(rule.basis.replace('_', ' '))}).</p>")
    if key == "rapid_review" and report.rapid_review_anchors:
        counted = "; ".join(escape(ANCHORS.get(a, a)) for a in report.rapid_review_anchors)
        parts.append(f"<p>Counted from {counted} (the anchor this partnership uses). "
                     f"Extensions notified to the Panel Secretariat: {report.total.rapid_review_extensions}.</p>")
    parts.append(_table(["", "Due", "On time", "Late", "Late by (working days)", "Overdue, open", median], rows))
    by_quarter, spread = duty_charts(report, key, TITLES[key])
    parts.append(f"<figure><div class='charts'><div>{by_quarter}</div><div>{spread}</div></div>"
                 f"<figcaption class='source'>{escape(TITLES[key])}: timeliness by quarter and working "
                 "days taken, the limit drawn dashed.</figcaption></figure>")
    if rule is not None:
        parts.append(f"<p class='source'>Source: {escape(rule.source)}</p>")
    return "".join(parts)


def _others(report: Report) -> str:
    rows = [[escape(f.label), _num(f.panel_responses), _num(f.panel_responses_within_aim),
             _agreement(f), _num(f.lcspr_commissioned), _num(f.lcspr_published), _num(f.lcspr_published_within_6_months),
             _num(f.final_reports_7_days_before), _num(f.national_reviews_recommended),
             _num(f.panel_national_reviews)] for f in _spans(report)]
    return (
        "<h2 id='panel'>Panel responses, LCSPRs and national reviews</h2>"
        + _table(["", "Panel responses received",
                  f"Within the Panel's aim ({escape(report.within('panel_response'))})",
                  "Panel agreed with the decision", "LCSPRs commissioned", "LCSPRs published",
                  f"Published {escape(report.within('lcspr_publication'))}",
                  f"Final report sent {escape(report.within('final_report_to_panel'))}",
                  "National reviews recommended",
                  "Panel decided a national review"], rows)
        + "<p>The Panel's agreement with the partnership's decision counts the responses recorded as "
          "<code>panel-agreed</code> or <code>panel-disagreed</code>; a response recorded only as "
          "<code>panel-responded</code> says nothing about it and is not counted there.</p>"
    )


def _agreement(figures: Figures) -> str:
    """"2 of 3" (agreed of those recording either), or "not recorded"."""
    recorded = figures.panel_agreed + figures.panel_disagreed
    return f"{figures.panel_agreed} of {recorded}" if recorded else "not recorded"


def _late(report: Report) -> str:
    rows = [[escape(o.reference), escape(o.label), _day(o.due), _day(o.completed_on) if o.completed_on
             else "still open", _num(o.working_days_late), escape(o.reason or "")]
            for o in report.late_steps]
    if not rows:
        return "<h2 id='late'>Late steps</h2><p>None.</p>"
    table = _table(["Case", "Step", "Due", "Done", "Working days late", "Reason recorded"], rows, text_columns=2)
    return ("<h2 id='late'>Late steps</h2><p>Every step done late or still open past its date, by case "
            "reference (never a child's details).</p>" + table)


def render_html(report: Report) -> str:
    who = escape(report.partnership) if report.partnership else "all partnerships"
    period = f"{_day(report.period.start)} to {_day(report.period.end)}"
    t = report.total
    notified = t.steps["panel_notification"]
    reviews = t.steps["rapid_review"]
    headline = "".join(
        f"<div><b>{value}</b>{escape(label)}</div>"
        for value, label in (
            (t.cases.considered, "incidents considered"),
            (t.cases.notified, "notified to the Panel"),
            (f"{notified.on_time}/{notified.due}", f"notifications {report.within('panel_notification')}"),
            (f"{reviews.on_time}/{reviews.due}", f"rapid reviews {report.within('rapid_review')}"),
            (t.lcspr_published, "LCSPRs published"),
        )
    )
    body = "".join(_duty(report, key) for key in REPORTED_STEPS)
    return (
        "<!DOCTYPE html><html lang='en-GB'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Safeguarding reviews: timeliness, {period}</title><style>{STYLE}</style></head><body>"
        f"<h1>Safeguarding reviews: timeliness</h1><p>{who}, {period}. Working days are Monday to "
        "Friday except England bank holidays; a partnership's closure days do not count against a "
        "statutory limit. Open cases are counted as of the last day of the period; withdrawn cases "
        "are counted apart and nowhere else.</p>"
        f"<section class='headline'>{headline}</section>"
        f"<h2 id='cases'>Cases</h2>{_cases(report)}{body}{_others(report)}{_late(report)}"
        "<p class='source'>Regulation 14 of SI 2018/789 asks the safeguarding partners to monitor the "
        "time their reviews take (legislation.gov.uk; not in the seed documents). Each limit above "
        "names its source.</p></body></html>\n"
    )
