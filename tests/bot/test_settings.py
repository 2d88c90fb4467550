"""Settings: defaults, environment, TOML file, secrets and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SAFEGUARD_DATA_DIR", "SAFEGUARD_DATABASE_URL", "SAFEGUARD_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings()
    assert settings.data_dir == Path("var")
    assert settings.resolved_database_url().startswith("sqlite:///")
    assert settings.resolved_database_url().endswith("var/safeguard.db")
    assert settings.partnership().reference_prefix == "SG"


def test_environment_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text('data_dir = "/srv/a"\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", "/srv/b")
    settings = load_settings(config)
    assert settings.data_dir == Path("/srv/b")
    assert settings.log_level == "DEBUG"


def test_secrets_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGUARD_SLACK_BOT_TOKEN", "xoxb-very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings)
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"SAFEGUARD_DATABASE_URL": "oracle://x"}, "SAFEGUARD_DATABASE_URL"),
        ({"SAFEGUARD_LOG_LEVEL": "LOUD"}, "SAFEGUARD_LOG_LEVEL"),
        ({"SAFEGUARD_CLOSURE_DAYS": '["2026-13-01"]'}, "SAFEGUARD_CLOSURE_DAYS"),
        ({"SAFEGUARD_SURPRISE": "1"}, "SAFEGUARD_SURPRISE"),
        ({"SAFEGUARD_CONFIG_FILE": "/nonexistent/s.toml"}, "SAFEGUARD_CONFIG_FILE"),
    ],
)
def test_bad_settings_name_the_key(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fragment: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_partnerships_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        '[[partnerships]]\nkey = "tees"\nname = "Tees"\nreference_prefix = "TEES"\n'
        'closure_days = ["2026-12-29"]\n'
    )
    settings = load_settings(config)
    tees = settings.partnership("tees")
    # A closure day: the office is shut (reminders avoid it) but the statutory count runs on.
    assert settings.calendar_for(tees).is_open_day(Path and __import__("datetime").date(2026, 12, 29)) is False
    with pytest.raises(SettingsError, match="unknown partnership 'nope'"):
        settings.partnership("nope")


def test_duplicate_partnerships_refused(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text('[[partnerships]]\nkey = "a"\n[[partnerships]]\nkey = "a"\n')
    with pytest.raises(SettingsError, match="duplicate partnership"):
        load_settings(config)


def test_example_settings_file_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "settings.example.toml"
    settings = load_settings(example)
    assert settings.partnership().key == "example"


def test_duplicate_reference_prefixes_refused(tmp_path: Path) -> None:
    # Both take the default prefix SG: their references would collide.
    config = tmp_path / "s.toml"
    config.write_text('[[partnerships]]\nkey = "north"\n[[partnerships]]\nkey = "south"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "\n" not in message
    assert "north" in message and "south" in message and "reference_prefix" in message
    assert "'SG'" in message


def test_distinct_reference_prefixes_accepted(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        '[[partnerships]]\nkey = "north"\nreference_prefix = "NO"\n'
        '[[partnerships]]\nkey = "south"\nreference_prefix = "SO"\n'
    )
    assert [p.reference_prefix for p in load_settings(config).partnerships] == ["NO", "SO"]


@pytest.mark.parametrize("name", ["SAFEGUARD_DATABSE_URL", "SAFEGUARD_TEST_INTAKE_PAUSE"])
def test_an_unknown_safeguard_variable_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    """A misspelt variable must not fall back to a default; nor is any prefix exempt (the old
    test-only SAFEGUARD_TEST_* hooks are gone from production code)."""
    monkeypatch.setenv(name, "x")
    with pytest.raises(SettingsError, match=f"^bad setting {name}: no such setting$"):
        load_settings(data_dir=tmp_path)
