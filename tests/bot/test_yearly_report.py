"""Issue 15: the yearly report's figures, from cases with known dates across the reporting year
1 April 2025 to 31 March 2026 (Easter 2025 and 2026, the May, August and Christmas bank
holidays, a late rapid review with an extension notified, a late notification whose recorded
reason names the child, a withdrawn case, a not-required case, a learning request, open cases
and an LCSPR decided the year before). Built once per module through the real case service on
SQLite (the figures are pure; the database only loads them), with a partnership closure over
Christmas that must not change any count.

Every expected number below was counted by hand on the England calendar (working days: Monday
to Friday, not a bank holiday; the anchor is day 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.cases import CaseService
from bot.core.report import (
    NO_REASON,
    REDACTED,
    Period,
    ReportPeriodError,
    default_period,
    period_from,
)
from bot.settings import load_settings
from store.db import make_engine, upgrade

NOTIFY = {"age": "under_18", "abuse_or_neglect": "known", "harm": "died", "location": "in_area",
          "looked_after": "no", "care_leaver_under_25": "no"}
LOOKED_AFTER = {**NOTIFY, "looked_after": "yes"}
YEAR = Period(date(2025, 4, 1), date(2026, 3, 31))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CaseService, dict[str, str]]]:
    tmp: Path = tmp_path_factory.mktemp("report")
    engine = make_engine(f"sqlite:///{tmp / 'report.db'}")
    upgrade(engine)
    # A Christmas shutdown: closure days never count against a statutory limit.
    settings = load_settings(data_dir=tmp / "var",
                             closure_days=[date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)])
    service = CaseService(engine, settings, today=lambda: date(2026, 6, 1))
    refs: dict[str, str] = {}

    def open_(name: str, aware: date, **kw: object) -> str:
        refs[name] = service.open_case(la_aware=aware, actor="test", **kw).reference  # type: ignore[arg-type]
        return refs[name]

    def rec(ref: str, milestone: str, on: date, note: str | None = None) -> None:
        service.record_milestone(ref, milestone, on=on, actor="test", note=note)

    # A: aware Thu 17 Apr 2025 (Good Friday and Easter Monday follow). Notified on time; the
    # rapid review late (due Tue 13 May after the early May bank holiday), an extension told.
    a = open_("A", date(2025, 4, 17), answers=NOTIFY)
    rec(a, "panel-notified", date(2025, 4, 25))
    rec(a, "partners-notified", date(2025, 4, 25))
    rec(a, "rapid-review-delay-notified", date(2025, 5, 9), "Police disclosure awaited")
    rec(a, "rapid-review-sent", date(2025, 5, 20))
    rec(a, "panel-agreed", date(2025, 6, 3))  # the Panel's response, agreeing with the decision
    rec(a, "decision-local-review", date(2025, 6, 10))
    rec(a, "lcspr-commission-notified", date(2025, 6, 10))
    rec(a, "publication-planned", date(2025, 12, 1))
    rec(a, "final-report-sent", date(2025, 11, 14))
    rec(a, "published", date(2025, 12, 1))
    # B: aware Mon 22 Dec 2025, a looked-after child: notified late over Christmas, for a reason
    # that names the child; SoS/Ofsted on time; rapid review on time; a national review.
    b = open_("B", date(2025, 12, 22), answers=LOOKED_AFTER,
              details={"child": {"name": "Ann Smith", "date_of_birth": "2015-03-04"}})
    rec(b, "partners-notified", date(2025, 12, 23))
    rec(b, "sos-ofsted-notified", date(2025, 12, 30))
    rec(b, "panel-notified", date(2026, 1, 5), "Ann Smith's records were held by another LA")
    rec(b, "rapid-review-sent", date(2026, 1, 15))
    rec(b, "decision-national-review", date(2026, 1, 15))
    rec(b, "panel-requested-information", date(2026, 2, 20))
    # C: notification not required.
    open_("C", date(2025, 7, 1), answers={**NOTIFY, "harm": "not_serious"})
    # D: opened by mistake and withdrawn.
    d = open_("D", date(2025, 8, 4), answers=NOTIFY)
    service.withdraw(d, reason="duplicate of another case", actor="test")
    # E: a learning request, decided.
    e = open_("E", date(2025, 9, 10), request_type="learning_request")
    rec(e, "learning-request-decided", date(2025, 9, 24))
    # F: aware Fri 20 Mar 2026, not notified by 31 March: open and overdue.
    open_("F", date(2026, 3, 20), answers=NOTIFY)
    # G: aware Mon 30 Mar 2026: its notification falls due after Easter 2026, not yet due.
    open_("G", date(2026, 3, 30), answers=NOTIFY)
    # H: aware in the year before; its review is published late in this one.
    h = open_("H", date(2025, 1, 10), answers=NOTIFY)
    rec(h, "panel-notified", date(2025, 1, 14))
    rec(h, "partners-notified", date(2025, 1, 14))
    rec(h, "rapid-review-sent", date(2025, 1, 31))
    rec(h, "panel-responded", date(2025, 2, 10))
    rec(h, "decision-local-review", date(2025, 3, 1))
    rec(h, "lcspr-commission-notified", date(2025, 3, 3))
    rec(h, "publication-planned", date(2025, 10, 1))
    rec(h, "publication-delay-notified", date(2025, 8, 15), "Inquest adjourned")
    rec(h, "final-report-sent", date(2025, 9, 25))
    rec(h, "published", date(2025, 10, 1))
    yield service, refs
    engine.dispose()


@pytest.fixture(scope="module")
def report(built: tuple[CaseService, dict[str, str]]):  # type: ignore[no-untyped-def]
    return built[0].yearly_report(YEAR)


def test_case_counts_leave_the_withdrawn_case_apart(report) -> None:  # type: ignore[no-untyped-def]
    assert report.as_json()["cases"] == {
        "considered": 6, "notified": 2, "not_required": 1, "learning_requests": 1, "withdrawn": 1,
    }


def test_panel_notifications(report) -> None:  # type: ignore[no-untyped-def]
    # A on time in 4 working days (Good Friday, Easter Monday skipped); B due Wed 31 Dec (the
    # closure does not move it), sent Mon 5 Jan: 7 working days, 2 late; F overdue.
    assert report.as_json()["panel_notification"] == {
        "due": 3, "on_time": 1, "late": 1, "open_overdue": 1, "median_working_days": 5.5,
    }
    assert report.total.steps["panel_notification"].working_days_late == (2,)


def test_rapid_reviews_late_and_extension(report) -> None:  # type: ignore[no-untyped-def]
    # A: due Tue 13 May 2025, sent Tue 20 May (20 working days, 5 late); B: 15 exactly.
    assert report.as_json()["rapid_review"] == {
        "due": 2, "on_time": 1, "late": 1, "open_overdue": 0, "median_working_days": 17.5,
    }
    assert report.total.rapid_review_extensions == 1
    assert report.total.steps["rapid_review"].working_days_late == (5,)
    assert report.rapid_review_anchors == ("partners_aware",)


def test_lcspr_and_final_reports(report) -> None:  # type: ignore[no-untyped-def]
    data = report.as_json()
    # A: decided Tue 10 Jun, published Mon 1 Dec 2025 (due 10 Dec): 123 working days.
    # H: decided Sat 1 Mar, published Wed 1 Oct 2025 (due 1 Sep): 148 working days.
    assert data["lcspr_publication"] == {
        "due": 2, "on_time": 1, "late": 1, "open_overdue": 0, "median_working_days": 135.5,
    }
    # A: sent 11 working days before publication (due Thu 20 Nov); H: 4 (due Mon 22 Sep).
    assert data["final_report_to_panel"] == {
        "due": 2, "on_time": 1, "late": 1, "open_overdue": 0, "median_working_days": 7.5,
    }
    other = data["other_figures"]
    assert (other["lcspr_commissioned"], other["lcspr_published"]) == (1, 2)
    assert other["lcspr_published_within_6_months"] == 1
    assert other["final_reports_7_working_days_before"] == 1
    assert other["national_reviews_recommended"] == 1


def test_sos_ofsted_and_panel_responses(report) -> None:  # type: ignore[no-untyped-def]
    data = report.as_json()
    assert data["sos_ofsted_notification"] == {
        "due": 1, "on_time": 1, "late": 0, "open_overdue": 0, "median_working_days": 4,
    }
    other = data["other_figures"]
    # A: 9 working days after the rapid review; B: asked for information after 26.
    assert (other["panel_responses_received"], other["panel_responses_within_aim"]) == (2, 1)
    # A's response records the Panel's agreement; B's request for information says nothing of it.
    assert other["panel_agreement"] == {"agreed": 1, "not_agreed": 0}


def test_open_cases_as_of_the_end_date(report, built) -> None:  # type: ignore[no-untyped-def]
    service, refs = built
    open_refs = {v.reference for v in service.list_cases(status="open")}
    considered_open = open_refs & {refs[k] for k in "ABCEFG"}
    assert report.total.open_overdue == 1  # F
    assert report.total.open_not_yet_due == len(considered_open) - 1
    assert refs["G"] in considered_open


def test_late_steps_by_reference_with_reasons_never_the_child(report, built) -> None:  # type: ignore[no-untyped-def]
    _, refs = built
    late = {(o["reference"], o["step"]): o for o in report.as_json()["late_steps"]}
    assert set(late) == {
        (refs["A"], "rapid_review"), (refs["B"], "panel_notification"),
        (refs["F"], "panel_notification"), (refs["F"], "partners_notification"),
        (refs["H"], "lcspr_publication"), (refs["H"], "final_report_to_panel"),
    }
    assert late[(refs["A"], "rapid_review")]["reason"] == "delay notified 2025-05-09: Police disclosure awaited"
    assert late[(refs["A"], "rapid_review")]["working_days_late"] == 5
    reason = late[(refs["B"], "panel_notification")]["reason"]
    assert "Ann" not in reason and "Smith" not in reason and REDACTED in reason
    assert late[(refs["F"], "panel_notification")]["reason"] == NO_REASON
    assert late[(refs["F"], "panel_notification")]["completed_on"] is None
    assert late[(refs["H"], "lcspr_publication")]["reason"].startswith("delay notified 2025-08-15: Inquest")
    assert "Ann" not in str(report.as_json()) and "2015-03-04" not in str(report.as_json())


def test_quarters(report) -> None:  # type: ignore[no-untyped-def]
    data = report.as_json()
    labels = [q["label"] for q in data["quarters"]]
    assert labels == ["Q1 2025-26", "Q2 2025-26", "Q3 2025-26", "Q4 2025-26"]
    q1, q2, q3, q4 = data["quarters"]
    assert (q1["cases"]["considered"], q2["cases"]["considered"], q3["cases"]["considered"],
            q4["cases"]["considered"]) == (1, 2, 1, 2)
    assert q2["cases"]["withdrawn"] == 1 and q2["cases"]["not_required"] == 1
    assert q1["rapid_review"]["late"] == 1 and q4["rapid_review"]["on_time"] == 1
    assert q3["panel_notification"]["late"] == 1 and q4["panel_notification"]["open_overdue"] == 1
    assert q3["lcspr_publication"]["on_time"] == 1 and q2["lcspr_publication"]["late"] == 1
    for key in ("due", "on_time", "late", "open_overdue"):
        assert sum(q["panel_notification"][key] for q in data["quarters"]) == data["panel_notification"][key]


def test_limits_cite_their_sources(report) -> None:  # type: ignore[no-untyped-def]
    limits = report.as_json()["limits"]
    assert limits["panel_notification"]["rule"] == "5 working days after"
    assert "seed 001" in limits["panel_notification"]["source"]
    assert limits["final_report_to_panel"]["rule"] == "7 working days before"
    assert "seed 000" in limits["final_report_to_panel"]["source"]


def test_one_partnership_and_an_empty_period(built) -> None:  # type: ignore[no-untyped-def]
    service, _ = built
    empty = service.yearly_report(Period(date(2023, 4, 1), date(2024, 3, 31))).as_json()
    assert empty["cases"]["considered"] == 0
    assert empty["panel_notification"]["median_working_days"] is None


def test_default_period_is_the_last_complete_reporting_year() -> None:
    assert default_period(date(2026, 12, 1)) == YEAR
    assert default_period(date(2026, 4, 1)) == YEAR
    assert default_period(date(2026, 3, 31)) == Period(date(2024, 4, 1), date(2025, 3, 31))
    assert period_from(date(2025, 4, 1), None, date(2026, 12, 1)) == YEAR
    assert period_from(None, date(2026, 3, 31), date(2026, 12, 1)) == YEAR
    with pytest.raises(ReportPeriodError):
        period_from(date(2026, 4, 1), date(2026, 3, 31), date(2026, 12, 1))


# --- The command line and the renderers ----------------------------------------------------

@pytest.fixture
def cli(built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    from tests.support.cli import cli_on

    return cli_on(built[0].engine, tmp_path, monkeypatch, capsys)


def test_report_json_is_the_contract(cli, report) -> None:  # type: ignore[no-untyped-def]
    data = cli.ok("report", "--json", "--from", "2025-04-01", "--to", "31/03/2026").json
    assert data["period"] == {"from": "2025-04-01", "to": "2026-03-31"}
    assert data["cases"] == report.as_json()["cases"]
    for key in ("panel_notification", "rapid_review", "lcspr_publication", "final_report_to_panel",
                "sos_ofsted_notification"):
        assert set(data[key]) == {"due", "on_time", "late", "open_overdue", "median_working_days"}
        assert data[key] == report.as_json()[key]
    assert cli.ok("report", "--format", "json", "--from", "2025-04-01").json == data


def test_report_default_period_and_partnership(cli) -> None:  # type: ignore[no-untyped-def]
    from scheduler.calendar import today_in_london

    data = cli.ok("report", "--json").json
    assert data["period"] == default_period(today_in_london()).as_json()
    one = cli.ok("report", "--json", "--from", "2025-04-01", "--partnership", "default").json
    assert one["cases"]["considered"] == 6 and one["partnership"] == "default"


def test_report_refuses_bad_input_in_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "--from" in cli.error(2, "report", "--from", "2025-02-30")
    assert "before its start date" in cli.error(2, "report", "--from", "2026-04-01", "--to", "2026-03-31")
    assert "unknown partnership" in cli.error(2, "report", "--partnership", "nowhere")
    assert "cannot write" in cli.error(2, "report", "-o", str(tmp_path / "missing" / "r.html"))
    assert "disagree" in cli.error(2, "report", "--json", "--format", "csv")


def test_report_csv_one_row_per_case_and_step(cli, built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import csv

    _, refs = built
    out = tmp_path / "r.csv"
    cli.ok("report", "--format", "csv", "--from", "2025-04-01", "-o", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {(r["reference"], r["step"]) for r in rows} >= {(refs["A"], "rapid_review"), (refs["H"], "lcspr_publication")}
    assert len({(r["reference"], r["step"]) for r in rows}) == len(rows)
    assert not any(refs["D"] == r["reference"] for r in rows)  # withdrawn
    late = next(r for r in rows if r["reference"] == refs["A"] and r["step"] == "rapid_review")
    assert (late["outcome"], late["working_days"], late["working_days_late"]) == ("late", "20", "5")


def test_csv_cells_never_run_as_formulas() -> None:
    from handlers.report.csv_report import _cell

    assert _cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")" and _cell("-1") == "'-1" and _cell("ok") == "ok"


def test_html_is_self_contained_escaped_and_has_the_charts(report) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from handlers.report import render

    hostile = replace(report, partnership="<script>alert(1)</script>")
    page = render(hostile, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("<svg") == 10 and "<?xml" not in page
    assert "http://" not in page.split("<svg")[0] and "<link" not in page
    assert "Police disclosure awaited" in page and "Ann" not in page
    assert "@media print" in page and "width=device-width" in page


def _chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(page: Path, png: Path, browser: str) -> None:
    """The first page (a 1000 x 1600 viewport) of ``page`` as headless Chromium draws it."""
    import subprocess

    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-dev-shm-usage", "--no-first-run", "--window-size=1000,1600",
         f"--screenshot={png}", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=90,
    )


@pytest.mark.integration
@pytest.mark.subprocess
def test_the_html_report_draws_its_charts_in_chromium(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The first page as a reader sees it: docs/report-screenshot.png is this test's screenshot."""
    from PIL import Image

    from handlers.report.charts import LATE, ON_TIME
    from tests.conftest import require_server

    browser = _chromium()
    require_server(browser is not None, "Chromium is not installed (Debian: apt-get install chromium)")
    assert browser is not None
    page = tmp_path / "report.html"
    cli.ok("report", "--from", "2025-04-01", "-o", str(page))
    png = tmp_path / "report.png"
    screenshot(page, png, browser)
    image = Image.open(png).convert("RGB")
    assert image.size == (1000, 1600)
    colours = image.getcolors(maxcolors=1 << 20) or []

    def pixels(hex_colour: str) -> int:
        want = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return sum(n for n, rgb in colours if max(abs(a - b) for a, b in zip(rgb, want, strict=True)) <= 6)

    # The first chart's bars are drawn: on-time green and late red, in solid areas.
    assert pixels(ON_TIME) > 200 and pixels(LATE) > 200


def test_the_loader_on_both_databases(cases: CaseService) -> None:
    """store/report.py's queries on SQLite and PostgreSQL: voided milestones count for nothing."""
    ref = cases.open_case(la_aware=date(2025, 6, 2), actor="t", answers=NOTIFY).reference
    cases.record_milestone(ref, "panel-notified", on=date(2025, 6, 4), actor="t")
    cases.void_milestone(ref, "panel-notified", reason="wrong case", actor="t")
    cases.record_milestone(ref, "panel-notified", on=date(2025, 6, 16), actor="t", note="late: =cmd")
    data = cases.yearly_report(YEAR).as_json()
    assert data["cases"]["notified"] == 1
    assert data["panel_notification"] == {
        "due": 1, "on_time": 0, "late": 1, "open_overdue": 0, "median_working_days": 10,
    }
    assert data["late_steps"][0]["reason"] == "late: =cmd"
