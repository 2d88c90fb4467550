"""The ``safeguard-bot`` command line run in-process (bot.cli.main, the console script's entry
point) against a test database: a fraction of a subprocess's cost, the same code path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """``cli("case", "show", REF)`` -> Result; ``cli.ok(...)`` asserts exit 0."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, (args, result.err)
        return result

    def error(self, code: int, *args: str) -> str:
        """The one-line error of a command that must fail with ``code``."""
        result = self(*args)
        assert result.code == code, (args, result)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.err, result.err
        return lines[0]

    def open(self, aware: str = "2026-11-02", *extra: str) -> str:
        return self.ok("case", "open", "--aware", aware, "--json", *extra).json["reference"]


def engine_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def cli_on(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]) -> Cli:
    """A Cli on ``engine``'s database, run from an empty directory with an empty home (so no
    settings file is discovered but the test's own)."""
    for name in [n for n in __import__("os").environ if n.startswith("SAFEGUARD_") and n != "SAFEGUARD_DATA_KEY"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAFEGUARD_DATABASE_URL", engine_url(engine))
    monkeypatch.setenv("SAFEGUARD_DATA_DIR", str(tmp_path / "var"))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    return Cli(capsys)
