"""The one TOML loader (config/__init__.py) behind every config file: a file that cannot be read
or is not TOML is refused in one line naming it, with the same words whichever file it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.criteria import CriteriaConfigError, load_criteria
from config import ConfigFileError, read_toml
from handlers.referral.labels import LabelConfigError, load_labels
from scheduler.reminders import ReminderConfigError, load_policy
from scheduler.timescales import TimescaleConfigError, load_timescales

LOADERS: list[tuple[Callable[[Path], Any], type[ConfigFileError], str]] = [
    (load_criteria, CriteriaConfigError, "criteria"),
    (load_timescales, TimescaleConfigError, "timescales"),
    (load_policy, ReminderConfigError, "reminders"),
    (load_labels, LabelConfigError, "referral labels"),
]


@pytest.mark.parametrize("name", ["criteria.toml", "timescales.toml", "reminders.toml", "referral_labels.toml"])
def test_every_embedded_file_parses(name: str) -> None:
    data, origin = read_toml(name)
    assert data and origin == f"config/{name}"


@pytest.mark.parametrize(("load", "error", "kind"), LOADERS)
@pytest.mark.parametrize(
    ("content", "why"),
    [(None, "{kind} file {path}: cannot read: No such file or directory"),
     (b"[table\n", "{path}: not valid TOML: "),
     (b"key = \"\xff\"\n", "{kind} file {path}: cannot read: not UTF-8 text")],
    ids=["missing", "not-toml", "not-utf8"],
)
def test_a_bad_file_is_one_error_in_one_line_naming_it(
    tmp_path: Path, load: Callable[[Path], Any], error: type[ConfigFileError], kind: str,
    content: bytes | None, why: str,
) -> None:
    path = tmp_path / "partnership.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error) as caught:
        load(path)
    message = str(caught.value)
    assert isinstance(caught.value, ConfigFileError)
    assert message.startswith(why.format(kind=kind, path=path)), message
    assert "\n" not in message
