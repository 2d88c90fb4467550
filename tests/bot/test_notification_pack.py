"""Issue 10 item 10: the notification pack is copy-ready. Every field the Tees referral form in
tests/fixtures carries reaches the pack, read from what the referral reader writes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from bot.cases import CaseService
from bot.notification_pack import MISSING, build_pack
from bot.settings import load_settings
from handlers.referral.reader import read_referral
from tests.fixtures import build_referrals as fx

LAS = ["Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees"]
ANSWERS = {"abuse_or_neglect": "suspected", "harm": "serious_harm", "location": "in_area",
           "looked_after": "no", "care_leaver_under_25": "no"}


def service(engine: Engine, tmp_path) -> CaseService:  # type: ignore[no-untyped-def]
    settings = load_settings(
        data_dir=tmp_path / "var",
        partnerships=[{"key": "tees", "name": "Tees Safeguarding Children Partnerships",
                       "reference_prefix": "TEES", "local_authorities": LAS}],
    )
    return CaseService(engine, settings)


def pack_for(engine: Engine, tmp_path, **open_args) -> str:  # type: ignore[no-untyped-def]
    cases = service(engine, tmp_path)
    details = read_referral(fx.tees_docx(), "form.docx").as_json()
    details["child"]["gender"] = "Male"  # as the reader writes a "Gender: Male" answer
    view = cases.open_case(
        la_aware=date(2019, 3, 8), actor="t", summary="Case summary for lists",
        incident_date=date(2019, 3, 7), partnership_key="tees", details=details, **open_args,
    )
    partnership = cases.settings.partnership("tees")
    return build_pack(cases.get(view.reference), cases.details(view.reference), partnership)


def test_every_field_the_form_carries_is_in_the_pack(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = pack_for(engine, tmp_path, answers=ANSWERS, local_authority="Middlesbrough")
    expected = [
        fx.REFERRER["name"], fx.REFERRER["agency"], fx.REFERRER["email"],
        fx.CHILD["name"], fx.CHILD["address"], fx.CHILD["dob"],  # 04/01/2012, the form's style
        "07/03/2019", "21/11/2025", "08/03/2019",
        *fx.PARENTS, *fx.SIBLINGS, fx.GP, fx.SUMMARY,
        "Pat Imaginary (grandmother), 3 Nowhere Close, Northtown",
        "Child protection plan", "Serious incident notification request",
        "Sex / gender: Male", "Nature (child death / serious harm): Serious harm",
        "Abuse or neglect known or suspected: Suspected",
        "Notifying local authority: Middlesbrough",
        "Location: In the local authority's area",
    ]
    for name, title, agency, contact in fx.AGENCIES:
        expected.append(f"{name}, {title}, {agency}, {contact}")
    missing = [value for value in expected if value not in text]
    assert not missing, missing
    assert "Case summary for lists" not in text  # the referrer's incident details instead
    assert "{'" not in text and "'name':" not in text  # never a raw Python dict
    assert "Tees Safeguarding Children Partnerships" in text  # the partnership, separately
    # Only what the form does not carry is left to fill in: the notifier, ethnicity, disability.
    unfilled = [line.split(":")[0].strip() for line in text.splitlines() if MISSING in line]
    assert unfilled == ["Name, role", "Telephone and e-mail", "Ethnicity", "Disability"]


def test_a_step_that_is_not_applicable_is_not_reported_as_sent(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cases = service(engine, tmp_path)
    view = cases.open_case(la_aware=date(2026, 12, 22), actor="t", partnership_key="tees")
    view = cases.record_milestone(view.reference, "notification-not-required", on=date(2026, 12, 23), actor="t")
    text = build_pack(view, {}, cases.settings.partnership("tees"))
    assert "already recorded as sent" not in text and "recorded as sent" not in text
    assert "not applicable" in text
    # No LA on the case: the pack says which ones the partnership covers.
    assert "Notifying local authority: [not recorded: fill in] (one of: Hartlepool" in text
    sent = cases.open_case(la_aware=date(2026, 12, 22), actor="t", partnership_key="tees")
    sent = cases.record_milestone(sent.reference, "panel-notified", on=date(2026, 12, 23), actor="t")
    assert "recorded as sent on 23/12/2026" in build_pack(sent, {}, None)
