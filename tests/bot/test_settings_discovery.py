"""Issue 11 item 8: the CLI finds its settings wherever it is run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import settings as settings_module
from bot.settings import SettingsError, load_settings


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for name in [n for n in os.environ if n.startswith("SAFEGUARD_") and n != "SAFEGUARD_DATA_KEY"]:
        monkeypatch.delenv(name)
    home, work, etc = tmp_path / "home", tmp_path / "work", tmp_path / "etc" / "settings.toml"
    (home / ".config" / "safeguard-bot").mkdir(parents=True)
    work.mkdir()
    etc.parent.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.setattr(settings_module, "DISCOVERED_FILES", (
        Path("safeguard-bot.toml"), Path("~/.config/safeguard-bot/settings.toml"), etc))
    return {"cwd": work / "safeguard-bot.toml", "home": home / ".config" / "safeguard-bot" / "settings.toml",
            "etc": etc, "explicit": tmp_path / "explicit.toml", "env": tmp_path / "env.toml"}


def _write(path: Path, name: str) -> None:
    path.write_text(f'[[partnerships]]\nkey = "{name}"\n')


def test_discovery_order(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().source_file is None
    assert load_settings().partnership().key == "default"
    for where in ("etc", "home", "cwd"):
        _write(places[where], where)
        loaded = load_settings()
        assert loaded.partnership().key == where
        assert loaded.source_file == places[where].resolve()
    _write(places["env"], "env")
    monkeypatch.setenv("SAFEGUARD_CONFIG_FILE", str(places["env"]))
    assert load_settings().partnership().key == "env"
    _write(places["explicit"], "explicit")
    assert load_settings(places["explicit"]).partnership().key == "explicit"
    assert load_settings(places["explicit"]).source_file == places["explicit"]


def test_a_named_file_must_exist(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="--config: no such file"):
        load_settings(places["explicit"])
    monkeypatch.setenv("SAFEGUARD_CONFIG_FILE", str(places["env"]))
    with pytest.raises(SettingsError, match="SAFEGUARD_CONFIG_FILE: no such file"):
        load_settings()


def test_partnership_contact_settings(places: dict[str, Path]) -> None:
    places["cwd"].write_text(
        '[[partnerships]]\nkey = "north"\nteam_email = "team@north.gov.uk"\ncontact_name = "Pat Manager"\n'
        'contact_phone = "01234 567890"\ndefault_owner = "U0123ABCD"\n')
    partnership = load_settings().partnership()
    assert (partnership.team_email, partnership.contact_name, partnership.contact_phone,
            partnership.default_owner) == ("team@north.gov.uk", "Pat Manager", "01234 567890", "U0123ABCD")
    places["cwd"].write_text('[[partnerships]]\nkey = "north"\ndefault_owner = "U123"\n')
    with pytest.raises(SettingsError, match="default_owner"):
        load_settings()
    places["cwd"].write_text('[[partnerships]]\nkey = "north"\nteam_email = "not an address"\n')
    with pytest.raises(SettingsError, match="team_email"):
        load_settings()
