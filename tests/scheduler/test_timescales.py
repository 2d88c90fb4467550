"""Statutory timescales: every rule on real dates, and a config file that refuses mistakes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import compute_deadlines
from scheduler.timescales import (
    REQUIRED_KEYS,
    Event,
    TimescaleConfigError,
    load_timescales,
    parse_timescales,
)

CAL = WorkingCalendar()
TS = load_timescales()


def due(events: dict[Event, date], key: str, timescales=TS) -> date:  # type: ignore[no-untyped-def]
    return next(d.due for d in compute_deadlines(events, timescales, CAL) if d.key == key)


def test_embedded_file_has_every_required_key_with_a_source() -> None:
    assert set(REQUIRED_KEYS) <= set(TS.keys())
    for timescale in TS:
        assert timescale.source.document and timescale.source.section
        assert "para" not in timescale.source.cite().lower()  # no unverified paragraph numbers


@pytest.mark.parametrize(
    ("aware", "panel", "rapid"),
    [
        (date(2026, 12, 22), date(2026, 12, 31), date(2027, 1, 15)),
        (date(2027, 12, 22), date(2027, 12, 31), date(2028, 1, 17)),
        (date(2026, 12, 24), date(2027, 1, 5), date(2027, 1, 19)),
        (date(2026, 4, 2), date(2026, 4, 13), date(2026, 4, 27)),  # Easter
        (date(2026, 11, 28), date(2026, 12, 4), date(2026, 12, 18)),  # Saturday awareness
        (date(2022, 6, 1), date(2022, 6, 10), date(2022, 6, 24)),
        (date(2022, 9, 14), date(2022, 9, 22), date(2022, 10, 6)),
        (date(2023, 5, 3), date(2023, 5, 11), date(2023, 5, 25)),
    ],
)
def test_notification_and_rapid_review_from_awareness(aware: date, panel: date, rapid: date) -> None:
    events = {Event.LA_AWARE: aware}
    assert due(events, "panel_notification") == panel
    assert due(events, "partners_notification") == panel
    assert due(events, "rapid_review") == rapid


def test_rapid_review_counts_from_partners_awareness_when_recorded() -> None:
    events = {Event.LA_AWARE: date(2026, 12, 22), Event.PARTNERS_AWARE: date(2026, 12, 18)}
    assert due(events, "rapid_review") == date(2027, 1, 13)


def test_partnership_may_count_rapid_review_from_notification() -> None:
    from_notification = TS.with_counts_from("rapid_review", Event.PANEL_NOTIFIED)
    events = {Event.LA_AWARE: date(2026, 12, 22)}
    keys = [d.key for d in compute_deadlines(events, from_notification, CAL)]
    assert "rapid_review" not in keys  # not due until the Panel is notified
    events[Event.PANEL_NOTIFIED] = date(2026, 12, 30)
    assert due(events, "rapid_review", from_notification) == date(2027, 1, 21)


def test_other_anchors_are_refused() -> None:
    with pytest.raises(TimescaleConfigError, match="rapid_review may count from"):
        TS.with_counts_from("rapid_review", Event.DECISION_TO_INITIATE)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [(date(2027, 1, 15), date(2027, 2, 5)), (date(2027, 12, 17), date(2028, 1, 12))],
)
def test_panel_response(sent: date, expected: date) -> None:
    events = {Event.LA_AWARE: date(2026, 12, 1), Event.RAPID_REVIEW_SENT: sent}
    assert due(events, "panel_response") == expected


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (date(2027, 1, 20), date(2027, 7, 20)),
        (date(2026, 8, 31), date(2027, 2, 28)),
        (date(2027, 8, 31), date(2028, 2, 29)),
    ],
)
def test_lcspr_publication_six_calendar_months(decision: date, expected: date) -> None:
    events = {Event.LA_AWARE: date(2026, 8, 1), Event.DECISION_TO_INITIATE: decision}
    assert due(events, "lcspr_publication") == expected


@pytest.mark.parametrize(
    ("publication", "expected"),
    [
        (date(2027, 1, 8), date(2026, 12, 29)),
        (date(2028, 1, 10), date(2027, 12, 29)),
        (date(2027, 7, 20), date(2027, 7, 9)),
        (date(2026, 4, 15), date(2026, 4, 2)),
    ],
)
def test_final_report_seven_working_days_before_publication(publication: date, expected: date) -> None:
    events = {Event.LA_AWARE: date(2026, 1, 5), Event.PLANNED_PUBLICATION: publication}
    assert due(events, "final_report_to_panel") == expected


def test_deadlines_only_appear_once_their_event_is_known() -> None:
    keys = [d.key for d in compute_deadlines({Event.LA_AWARE: date(2026, 12, 22)}, TS, CAL)]
    assert keys == ["panel_notification", "partners_notification", "rapid_review"]


def test_rule_and_source_are_human_readable() -> None:
    [first, *_] = compute_deadlines({Event.LA_AWARE: date(2026, 12, 22)}, TS, CAL)
    assert first.rule == "5 working days after the LA became aware"
    assert "Children Act 2004 s16C" in first.source
    assert first.as_json()["due"] == "2026-12-31"


GOOD_ENTRY = """
[[timescale]]
key = "{key}"
label = "A label"
counts_from = "la_aware"
rule = {{ kind = "working_days_after", amount = 5 }}
met_by = "panel_notified"
basis = "statutory_guidance"
source = {{ document = "Doc", section = "Sec" }}
"""


def _file(**override: str) -> str:
    text = "".join(GOOD_ENTRY.format(key=key) for key in REQUIRED_KEYS)
    for old, new in override.items():
        text = text.replace(old, new, 1)
    return text


def test_minimal_valid_file_loads() -> None:
    assert len(parse_timescales(_file())) == len(REQUIRED_KEYS)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('counts_from = "la_aware"', 'counts_from = "la_awareness"', "timescale 'panel_notification' field 'counts_from'"),
        ('kind = "working_days_after"', 'kind = "fortnights"', "field 'rule.kind'"),
        ("amount = 5", "amount = -1", "field 'rule.amount'"),
        ('met_by = "panel_notified"', 'met_by = "teleported"', "field 'met_by'"),
        ('source = { document = "Doc", section = "Sec" }', "", "field 'source'"),
        ('label = "A label"', 'label = "A label"\nsurprise = 1', "field 'surprise'"),
        ('key = "panel_notification"', 'key = "rapid_review"', "duplicate timescale key"),
        ('key = "panel_notification"', 'key = "something_else"', "required timescale(s) missing: panel_notification"),
    ],
)
def test_bad_config_is_refused_naming_the_key(old: str, new: str, message: str) -> None:
    with pytest.raises(TimescaleConfigError) as caught:
        parse_timescales(_file(**{old: new}), "custom.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("custom.toml: ")
    assert "\n" not in str(caught.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TimescaleConfigError, match="not valid TOML"):
        parse_timescales("[[timescale]\n")
    with pytest.raises(TimescaleConfigError, match="cannot read"):
        load_timescales(tmp_path / "missing.toml")
