"""The yearly report's headline figures in a few plain lines: what a chat adapter posts beside
the HTML file (counts only: no reference, no reason, nothing typed by a person)."""

from __future__ import annotations

from bot.core.report import Report


def _of(on_time: int, due: int) -> str:
    return f"{on_time} of {due}"


def headline(report: Report) -> str:
    t = report.total
    c = t.cases
    period = f"{report.period.start:%d %b %Y} to {report.period.end:%d %b %Y}"
    pn, rr = t.steps["panel_notification"], t.steps["rapid_review"]
    lp, fr = t.steps["lcspr_publication"], t.steps["final_report_to_panel"]
    so = t.steps["sos_ofsted_notification"]
    lines = [
        f"Yearly report, {period} ({report.partnership or 'all partnerships'})",
        (f"Incidents considered: {c.considered} (notified to the Panel {c.notified}, notification not "
        f"required {c.not_required}, learning requests {c.learning_requests}); withdrawn, not counted: {c.withdrawn}"),
        (f"Panel notifications {report.within('panel_notification')}: {_of(pn.on_time, pn.due)} "
        f"(late {pn.late}, overdue {pn.open_overdue}, median {pn.median_working_days if pn.median_working_days is not None else '-'} working days)"),
        (f"Rapid reviews {report.within('rapid_review')}: {_of(rr.on_time, rr.due)} "
        f"(late {rr.late}, overdue {rr.open_overdue}; extensions notified {t.rapid_review_extensions})"),
        (f"LCSPRs: commissioned {t.lcspr_commissioned}, published {t.lcspr_published} "
        f"({t.lcspr_published_within_6_months} {report.within('lcspr_publication')}); publication steps on time {_of(lp.on_time, lp.due)}; "
        f"final reports {report.within('final_report_to_panel')} {_of(fr.on_time, fr.due)}"),
        f"SoS/Ofsted notifications on time: {_of(so.on_time, so.due)}",
        f"Open cases: {t.open_not_yet_due} not yet due, {t.open_overdue} overdue; late steps: {len(report.late_steps)}",
    ]
    return "\n".join(lines)
