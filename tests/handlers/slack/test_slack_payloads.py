"""The Slack payload codec on its own: sealed private_metadata, button values, modal values."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.slack import payloads as pl


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


META = pl.RecordDoneMeta(reference="SG-2026-0001", deadline="panel_notification", channel="C0NOTICE",
                         ts="1766400000.000100")


def test_sealed_metadata_opens_only_for_its_kind_its_user_and_its_key() -> None:
    seal = pl.MetadataSeal("signing-secret")
    sealed = seal.seal("record", "U1", META)
    assert len(sealed) < pl.METADATA_MAX
    assert seal.open("record", "U1", sealed, pl.RecordDoneMeta) == META
    for kind, user, raw, model in [
        ("open_case", "U1", sealed, pl.RecordDoneMeta),  # another modal's metadata
        ("record", "U2", sealed, pl.RecordDoneMeta),  # opened for someone else
        ("record", "U1", sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"), pl.RecordDoneMeta),
        ("record", "U1", sealed.replace("v1.", "v2.", 1), pl.RecordDoneMeta),
        ("record", "U1", '{"reference": "SG-2026-0001", "deadline": "x"}', pl.RecordDoneMeta),
        ("record", "U1", "", pl.RecordDoneMeta),
        ("record", "U1", None, pl.RecordDoneMeta),
        ("record", "U1", "a.b.c", pl.RecordDoneMeta),
        ("record", "U1", sealed, pl.OpenCaseMeta),  # the data is not that modal's shape
    ]:
        with pytest.raises(pl.PayloadError):
            seal.open(kind, user, raw, model)
    with pytest.raises(pl.PayloadError):
        pl.MetadataSeal("another-secret").open("record", "U1", sealed, pl.RecordDoneMeta)
    # the same secret after a restart opens it
    assert pl.MetadataSeal("signing-secret").open("record", "U1", sealed, pl.RecordDoneMeta) == META


def test_sealed_metadata_expires_after_a_day() -> None:
    clock = Clock(1_800_000_000)
    seal = pl.MetadataSeal("s", clock=clock)
    sealed = seal.seal("record", "U1", META)
    clock.now += pl.METADATA_MAX_AGE - 1
    assert seal.open("record", "U1", sealed, pl.RecordDoneMeta) == META
    clock.now += 2
    with pytest.raises(pl.PayloadError, match="out of date") as caught:
        seal.open("record", "U1", sealed, pl.RecordDoneMeta, field="done_on")
    assert caught.value.field == "done_on"


def test_metadata_models_refuse_what_the_bot_would_not_write() -> None:
    for bad in (
        {"reference": "SG-1", "deadline": "d", "channel": "<#C1>"},
        {"reference": "SG-1", "deadline": "d", "ts": "now"},
        {"reference": "SG-1", "deadline": "d", "extra": 1},
        {"reference": "<!channel>", "deadline": "d"},
        {"reference": "SG-1", "deadline": "d", "home": "yes"},
    ):
        with pytest.raises(ValueError):
            pl.RecordDoneMeta.model_validate(bad)
    with pytest.raises(ValueError):
        pl.OpenCaseMeta(decision="notify", submission="not-hex")
    with pytest.raises(ValueError):
        pl.RecordDecisionMeta.model_validate({"answers": {"q": "<@U1>"}})


def test_button_values() -> None:
    assert pl.parse_answer_value(pl.answer_value("notification", "harm", "died")) == ("notification", "harm", "died")
    assert pl.parse_help_value(pl.help_value("review", "improvements")) == ("review", "improvements")
    assert pl.parse_token("notify", "a decision") == "notify"
    ref = pl.ReminderRef("SG-2026-0001", "panel_notification")
    assert pl.parse_reminder_value(ref.as_value()) == ref
    for bad in (None, 3, "", "a|b", "a|b|c|d", "a|b c|d", "a||c", "x" * 200 + "|b|c"):
        with pytest.raises(pl.PayloadError):
            pl.parse_answer_value(bad)
    for bad in (None, "", "a b", "<!here>", "a|b"):
        with pytest.raises(pl.PayloadError):
            pl.parse_token(bad, "a flow")
    for bad in ('{"reference": "SG-1", "deadline": "d", "x": 1}', '{"reference": ["SG-1"], "deadline": "d"}',
                '{"reference": "SG-1"}', "[1]", "{", None, "x" * 5000):
        with pytest.raises(pl.PayloadError):
            pl.parse_reminder_value(bad)


def test_form_values_name_the_block_that_is_malformed() -> None:
    view = {"state": {"values": {
        "aware": {"value": {"type": "datepicker", "selected_date": "2026-12-21"}},
        "dob": {"value": {"type": "datepicker", "selected_date": "21/12/2026"}},
        "odd": {"value": {"type": "datepicker", "selected_date": "20261221"}},
        "summary": {"value": {"type": "plain_text_input", "value": "  text  "}},
        "empty": {"value": {"type": "plain_text_input", "value": None}},
        "number": {"value": {"type": "plain_text_input", "value": 12}},
        "pick": {"value": {"type": "static_select", "selected_option": {"value": "default"}}},
        "nulled": {"value": None},
        "string": "x",
    }}}
    form = pl.FormValues(view)
    assert form.date("aware") == date(2026, 12, 21)
    assert form.text("summary") == "text"
    assert form.text("empty") is None and form.text("absent") is None and form.date("nulled") is None
    assert form.option("pick") == "default"
    for block, read in (("dob", form.date), ("odd", form.date), ("number", form.text), ("string", form.text)):
        with pytest.raises(pl.PayloadError) as caught:
            read(block)
        assert caught.value.field == block
    assert pl.FormValues({"state": "x"}).date("aware") is None
    assert pl.FormValues(None).text("summary") is None
