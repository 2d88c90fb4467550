"""deploy/safeguard-bot.service passes ``systemd-analyze verify`` and keeps its hardening;
the log file is rotated (issue 16 item 7)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import configure_logging
from tests.conftest import require_server

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "safeguard-bot.service"


@pytest.mark.integration
@pytest.mark.subprocess
def test_service_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require_server(analyze is not None, "systemd-analyze is not installed (apt-get install systemd)")
    assert analyze is not None
    text = UNIT.read_text()
    for option in ("User=safeguard-bot", "EnvironmentFile=/etc/safeguard-bot/env", "ProtectSystem=strict",
                   "NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
                   "ExecStart=/opt/safeguard-bot/venv/bin/safeguard-bot run --headless"):
        assert option in text, option
    # Verified as installed, but with this environment's entry point (verify checks it exists).
    entry = Path(sys.executable).with_name("safeguard-bot")
    unit = tmp_path / "safeguard-bot.service"
    unit.write_text(text.replace("/opt/safeguard-bot/venv/bin/safeguard-bot", str(entry)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "safeguard-bot.service" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_log_file_is_rotated(tmp_path: Path) -> None:
    target = tmp_path / "logs" / "bot.log"
    handlers = configure_logging("INFO", tmp_path / "var", quiet=True, log_file=target, max_bytes=2048, backups=2)
    try:
        log = logging.getLogger("bot.test_rotation")
        for n in range(200):
            log.info("line %d of the rotation test, long enough to fill the file quickly", n)
    finally:
        root = logging.getLogger()
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
    files = sorted(p.name for p in target.parent.iterdir())
    assert files == ["bot.log", "bot.log.1", "bot.log.2"]  # two backups kept, no more
    assert all(p.stat().st_size <= 2048 + 200 for p in target.parent.iterdir())
    assert "line 199" in target.read_text()


def test_a_server_logs_to_stderr_only_unless_a_file_is_asked_for(tmp_path: Path) -> None:
    """Under systemd the journal takes stderr: no log file grows in the data directory unless
    SAFEGUARD_LOG_FILE names one (the terminal chat, whose screen shows warnings only, keeps
    its file of everything)."""
    root = logging.getLogger()
    for quiet, expected in ((False, []), (True, ["safeguard-bot.log"])):
        data = tmp_path / f"var-{quiet}"
        handlers = configure_logging("INFO", data, quiet=quiet)
        try:
            logging.getLogger("bot.test_server_logs").warning("a line")
        finally:
            for handler in handlers:
                root.removeHandler(handler)
                handler.close()
        assert sorted(p.name for p in data.iterdir()) == expected
