"""``python -m bot parse-referral`` end to end: the command-line contract the acceptance checks use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures import build_referrals as fx

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]

REPO = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = {"request_type", "referrer", "child", "incident_date", "child_status", "summary", "warnings"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_") or k == "SAFEGUARD_DATA_KEY"}
    env["PYTHONPATH"] = str(REPO)
    return env


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "parse-referral", *args], capture_output=True,
                          text=True, env=_env(), cwd=str(REPO), timeout=timeout)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("referrals")
    fx.build_all(out)
    return out


@pytest.mark.parametrize("name", ["tees_legacy.docx", "text_pdf.pdf", "eml_html.eml", "plain.txt"])
def test_json_contract(fixtures: Path, name: str) -> None:
    result = _run(str(fixtures / name), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert CONTRACT_KEYS <= set(data)
    assert {"name", "agency", "email"} <= set(data["referrer"])
    assert {"name", "date_of_birth", "nhs_number", "address"} <= set(data["child"])
    assert data["request_type"] in ("serious_incident_notification", "learning_request")
    assert data["child"]["date_of_birth"] == "2012-01-04"
    assert data["child"]["nhs_number"] == "9434765919"
    assert isinstance(data["warnings"], list) and isinstance(data["child_status"], list)


def test_human_output_is_a_readable_summary(fixtures: Path) -> None:
    result = _run(str(fixtures / "tees_glyph.docx"))
    assert result.returncode == 0, result.stderr
    for text in ("Serious incident notification request", "Jamie Fictional", "Date of birth:     2012-01-04",
                 "Child protection", "Brief details of the incident"):
        assert text in result.stdout
    assert not result.stdout.lstrip().startswith("{")


@pytest.mark.parametrize("name", sorted(f"{n}{ext}" for n, (ext, _) in fx.HOSTILE.items()))
def test_hostile_input_exits_2_with_one_line(fixtures: Path, name: str) -> None:
    result = _run(str(fixtures / name), "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("safeguard-bot: error: ") and name in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "nope.docx"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_zip_bomb_refused_in_seconds_with_small_memory(fixtures: Path) -> None:
    """Run under a wrapper so RUSAGE_CHILDREN measures only the CLI process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"r = subprocess.run([sys.executable, '-m', 'bot', 'parse-referral', {str(fixtures / 'zip_bomb.docx')!r}],"
        " capture_output=True)\n"
        "print(r.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=_env(),
                         cwd=str(REPO), timeout=60)
    rc, seconds, max_rss_kib = out.stdout.split()
    assert int(rc) == 2
    assert float(seconds) < 5
    assert int(max_rss_kib) < 200 * 1024  # the bomb would need 2 GiB
    assert time.perf_counter() - started < 10


def test_entity_bomb_and_lying_zip_refused_quickly(fixtures: Path) -> None:
    for name in ("entity_bomb.docx", "zip_bomb_lying.docx"):
        started = time.perf_counter()
        result = _run(str(fixtures / name))
        assert result.returncode == 2
        assert time.perf_counter() - started < 5
