"""``safeguard-bot parse-referral`` in process: the text stated beside a tick is shown and kept
(issue 10 item 11), and the criteria answers the form settles are in the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import build_referrals as fx


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    from bot.cli import main

    capsys.readouterr()
    status = main(args)
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def test_stated_text_and_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    form = tmp_path / "form.docx"
    form.write_bytes(fx.tees_docx("glyph", statuses=("early_help", "child_protection"),
                                  stated={"early_help": fx.EARLY_HELP}))
    human = _run(["parse-referral", str(form)], capsys)
    assert f"Known to early help services ({fx.EARLY_HELP})" in human
    data = json.loads(_run(["parse-referral", str(form), "--json"], capsys))
    assert data["child_status_details"] == {"early_help": fx.EARLY_HELP}
    assert data["answers"] == {"age": "under_18", "family_known_to_csc": "yes"}
