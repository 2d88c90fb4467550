"""The small pieces: NHS check digits, UK dates in forms, tick marks, label config."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.dates import search_date
from bot.core import nhs
from handlers.referral import marks, parse_referral
from handlers.referral.labels import LabelConfigError, load_labels, norm


def _check_digit(nine: str) -> int | None:
    """Independent modulus-11: weights 10..2, 11 - remainder, 11 -> 0, 10 -> invalid."""
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    check = 11 - remainder
    return {11: 0, 10: None}.get(check, check)


def test_known_valid_test_number() -> None:
    assert nhs.normalise("943 476 5919") == ("9434765919", None)
    assert nhs.normalise("943-476-5919") == ("9434765919", None)
    assert nhs.is_valid("9434765919")


def test_bad_check_digit_is_kept_and_warned_not_fixed() -> None:
    number, warning = nhs.normalise("943 476 5918")
    assert number == "9434765918"
    assert warning and "check digit" in warning and "943" not in warning


@pytest.mark.parametrize(
    "text,warning",
    [("943 476 591", "9 digits"), ("94347659190", "11 digits"), ("943 476 59A9", "10 digits")],
)
def test_wrong_length_is_none_with_warning(text: str, warning: str) -> None:
    number, message = nhs.normalise(text)
    assert number is None and message and warning in message


@pytest.mark.parametrize("text", ["", "N/A", "not known", "Unknown"])
def test_placeholders_are_simply_missing(text: str) -> None:
    assert nhs.normalise(text) == (None, None)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_check_digit_matches_an_independent_computation(nine: str) -> None:
    expected = _check_digit(nine)
    assert nhs.check_digit(nine) == expected
    if expected is not None:
        assert nhs.is_valid(nine + str(expected))
        assert not nhs.is_valid(nine + str((expected + 1) % 10))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("07/03/2019", date(2019, 3, 7)),
        ("7.3.2019", date(2019, 3, 7)),
        ("7-3-2019", date(2019, 3, 7)),
        ("4 January 2012", date(2012, 1, 4)),
        ("4th January 2012", date(2012, 1, 4)),
        ("21 Nov 2026", date(2026, 11, 21)),
        ("Tuesday 22 December 2026", date(2026, 12, 22)),
        ("2019-03-07", date(2019, 3, 7)),
        ("07/03/19", date(2019, 3, 7)),
        ("on 07/03/2019 (approx.)", date(2019, 3, 7)),
        ("died 4 January 2012 in hospital", date(2012, 1, 4)),
        ("not known", None),
        ("31/02/2019", None),
    ],
)
def test_uk_dates(text: str, expected: date | None) -> None:
    assert search_date(text) == expected


@pytest.mark.parametrize("written", ["07/03/2019", "7.3.2019", "7 March 2019", "7 Mar 2019"])
def test_dates_through_the_parser_are_iso(written: str) -> None:
    ref = parse_referral(f"Child's name: A\nDate of serious incident: {written}\n".encode(), "f.txt")
    assert ref.as_json()["incident_date"] == "2019-03-07"


@pytest.mark.parametrize(
    "text,state",
    [("☒", True), ("☑", True), ("✓", True), ("X", True), ("[x]", True), ("Yes", True),
     ("☐", False), ("[ ]", False), ("", False), ("|_|", False), ("No", False), ("Ann", None)],
)
def test_mark_state(text: str, state: bool | None) -> None:
    assert marks.mark_state(text) is state


def test_segments_in_both_orders() -> None:
    assert marks.segments("[X] Learning Request [ ] SIN", True) == [("Learning Request", True), ("SIN", False)]
    assert marks.segments("Learning Request ☐ SIN ☒", False) == [("Learning Request", False), ("SIN", True)]


def test_label_normalisation() -> None:
    assert norm("D.O.B.:") == norm("DOB") == "dob"
    assert norm("Child’s Status at time of Incident (Tick as Appropriate)") == norm("Child's status at time of incident")
    assert norm("3. E-mail Address *") == "email address"


def test_shipped_label_config_loads_and_maps_sections() -> None:
    book = load_labels()
    assert book.field_for("name", "referrer") == "referrer.name"
    assert book.field_for("name", "child") == "child.name"
    assert book.field_for("name", None) is None
    assert book.field_for(norm("Date of serious incident"), None) == "incident_date"


def test_bad_label_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "labels.toml"
    bad.write_text('[fields."child.shoe_size"]\nlabels = ["Shoe size"]\n')
    with pytest.raises(LabelConfigError, match="child.shoe_size"):
        load_labels(bad)
    bad.write_text('[sections]\nchild = "Child details"\n')
    with pytest.raises(LabelConfigError, match="sections.child"):
        load_labels(bad)


def test_a_partnership_can_add_its_own_wording(tmp_path: Path) -> None:
    from config import embedded_text

    custom = tmp_path / "labels.toml"
    custom.write_text(embedded_text("referral_labels.toml").replace(
        'labels = ["Gender"', 'labels = ["Pupil sex as recorded", "Gender"'))
    book = load_labels(custom)
    ref = parse_referral(b"Child's name: A\nPupil sex as recorded: F\n", "f.txt", book=book)
    assert ref.child.gender == "F"


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("Section C: Summary of the incident and rationale for the request", "field", "summary"),
        ("Part 2 - Child / Young Person Details", "heading", "child"),
        ("SECTION 3a. Reasons for Consideration Request", "heading", "reasons"),
        ("Part of an agency review was shared", "value", None),  # prose, not a heading
        ("Section 47 enquiries were started in May", "value", None),
    ],
)
def test_section_heading_paragraphs(text: str, kind: str, key: str | None) -> None:
    match = load_labels().classify(text, None)
    assert (match.kind, match.key) == (kind, key)


@pytest.mark.parametrize(
    ("text", "state", "detail"),
    [
        ("☒ Northtown Family Hub", True, "Northtown Family Hub"),
        ("[X] Northtown Family Hub", True, "Northtown Family Hub"),
        ("X", True, None),
        ("☐", False, None),
        ("Northtown Family Hub", True, "Northtown Family Hub"),  # written in the box: stated
        ("", None, None),
    ],
)
def test_state_and_detail(text: str, state: bool | None, detail: str | None) -> None:
    from handlers.referral.labels import state_and_detail

    assert state_and_detail(text) == (state, detail)
