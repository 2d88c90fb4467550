"""``safeguard-bot teams-package``: the Teams app package, validated against the published Teams
app manifest schema (v1.29, vendored from OfficeDev/microsoft-teams-app-schema under
tests/fixtures/teams with its MIT licence)."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import jsonschema
import pytest

from tests.support.cli import Cli

SCHEMA = Path(__file__).parents[1] / "fixtures" / "teams" / "MicrosoftTeams.schema.json"
APP_ID = "00000000-0000-0000-0000-00000000b07a"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SAFEGUARD_TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("SAFEGUARD_TEAMS_DOMAIN", "bot.testshire.gov.uk")
    return Cli(capsys)


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_the_package_validates_against_the_published_manifest_schema(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "safeguard-bot.zip"
    cli.ok("teams-package", "-o", str(out))
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        color, outline = archive.read("color.png"), archive.read("outline.png")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(manifest), key=str)
    assert not errors, [e.message for e in errors]
    assert manifest["manifestVersion"] == schema["properties"]["manifestVersion"]["const"]
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["bots"][0]["scopes"] == ["personal", "team"]
    assert manifest["validDomains"] == ["bot.testshire.gov.uk"]
    assert _size(color) == (192, 192) and _size(outline) == (32, 32)


def test_a_manifest_the_schema_refuses_is_refused(cli: Cli, tmp_path: Path) -> None:
    """The validation bites: a manifest without its bot id, or with an unknown scope, fails."""
    out = tmp_path / "p.zip"
    cli.ok("teams-package", "-o", str(out))
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = {**manifest, "bots": [{**manifest["bots"][0], "scopes": ["everyone"]}]}
    assert list(validator.iter_errors(broken))


def test_without_an_app_id_one_line_names_the_setting(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEGUARD_TEAMS_APP_ID", "not-a-guid")
    line = cli.error(2, "teams-package", "-o", str(tmp_path / "p.zip"))
    assert "SAFEGUARD_TEAMS_APP_ID" in line
    assert not (tmp_path / "p.zip").exists()


@pytest.mark.parametrize(("env", "named"), [
    ({"SAFEGUARD_TEAMS_APP_ID": ""}, "SAFEGUARD_TEAMS_APP_ID"),
    ({}, "SAFEGUARD_TEAMS_APP_PASSWORD"),
    ({"SAFEGUARD_TEAMS_APP_PASSWORD": "s", "SAFEGUARD_TEAMS_CERTIFICATE_FILE": "/nonexistent.pem"},
     "SAFEGUARD_TEAMS_APP_PASSWORD"),
])
def test_run_with_teams_on_but_incomplete_stops_with_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                              env: dict[str, str], named: str) -> None:
    monkeypatch.setenv("SAFEGUARD_TEAMS_MODE", "on")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    line = cli.error(2, "run", "--headless")
    assert named in line
