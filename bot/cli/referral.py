"""``safeguard-bot parse-referral FILE [--json]``: read one referral form, change nothing.

Anything that cannot be used (corrupt, encrypted, a scan, an automatic reply, a bomb) ends with
one line on stderr and exit status 2, within a time and memory budget, never a traceback.
"""

from __future__ import annotations

import json
import signal
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from bot.cli.common import UserError

TIME_LIMIT_S = 20  # a form is read in well under a second; anything slower is hostile
MEMORY_LIMIT = 1536 * 1024 * 1024  # address space cap for this one-shot command

_REQUEST_NAMES = {
    "serious_incident_notification": "Serious incident notification request",
    "learning_request": "Learning request",
}
def _status(key: str, stated: dict[str, str]) -> str:
    """A ticked status with the text the form states beside it: "Known to Early Help (Northtown
    Family Hub)"."""
    name = _STATUS_NAMES[key]
    return f"{name} ({stated[key]})" if stated.get(key) else name


_STATUS_NAMES = {
    "not_known_to_csc": "Not known to children's social care",
    "early_help": "Known to early help services",
    "yot": "Known to YOT",
    "child_in_need": "Child in need",
    "child_protection": "Child protection",
    "looked_after": "Looked after child",
}


class _TooSlow(Exception):
    pass


@contextmanager
def _budget() -> Iterator[None]:
    """Cap wall time (SIGALRM) and address space where the platform allows it."""
    previous_limit = None
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft > MEMORY_LIMIT:
            cap = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            previous_limit = (soft, hard)
    except (ImportError, ValueError, OSError):
        previous_limit = None

    def _alarm(_signum: int, _frame: object) -> None:
        raise _TooSlow()

    old_handler = None
    if hasattr(signal, "SIGALRM"):
        old_handler = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        yield
    finally:
        if hasattr(signal, "SIGALRM"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler or signal.SIG_DFL)
        if previous_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, previous_limit)


def _read(file: Path) -> bytes:
    from handlers.referral.safety import MAX_INPUT_BYTES

    try:
        size = file.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise UserError(
                f"{file.name}: file is too large ({size // (1024 * 1024)} MiB; the limit is "
                f"{MAX_INPUT_BYTES // (1024 * 1024)} MiB)"
            )
        with file.open("rb") as handle:
            return handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{file}: is a directory, not a form") from None
    except OSError as exc:
        raise UserError(f"{file}: cannot read ({exc.strerror or type(exc).__name__})") from None


def _human(data: dict[str, Any], name: str) -> str:
    def val(value: Any) -> str:
        return str(value) if value not in (None, "", []) else "(not given)"

    ref, child = data["referrer"], data["child"]
    lines = [
        f"Referral form {name} ({data['source_format']})",
        f"  Request type:      {_REQUEST_NAMES.get(data['request_type'] or '', '(not ticked)')}",
        f"  Submitted:         {val(data['submission_date'])}",
        "",
        "Referrer",
        f"  Name:              {val(ref['name'])}",
        f"  Agency:            {val(ref['agency'])}",
        f"  Email:             {val(ref['email'])}",
        "",
        "Child",
        f"  Name:              {val(child['name'])}",
        f"  Date of birth:     {val(child['date_of_birth'])}",
        f"  NHS number:        {val(child['nhs_number'])}",
        f"  Address:           {val(child['address'])}",
        f"  Date of death / incident: {val(data['incident_date'])}",
        "  Status at the time: "
        + (", ".join(_status(s, data.get("child_status_details", {})) for s in data["child_status"])
           or "(none ticked)"),
        f"  Parents / carers:  {val('; '.join(data['parents_carers']))}",
        f"  Siblings:          {val('; '.join(data['siblings']))}",
        f"  GP:                {val(data['gp'])}",
    ]
    if data["agencies"]:
        lines += ["", "Agencies / professionals involved"]
        for agency in data["agencies"]:
            lines.append("  - " + ", ".join(v for v in agency.values() if v))
    lines += ["", "Brief details of the incident"]
    summary = data["summary"] or "(not given)"
    for paragraph in summary.split("\n"):
        lines += textwrap.wrap(paragraph, 88, initial_indent="  ", subsequent_indent="  ") or [""]
    if data["warnings"]:
        lines += ["", f"Warnings ({len(data['warnings'])})"]
        lines += [f"  ! {w}" for w in data["warnings"]]
    return "\n".join(lines)


@click.command("parse-referral")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True))
@click.option("--json", "as_json", is_flag=True, help="Print the fields as a JSON object.")
def parse_referral(file: Path, as_json: bool) -> None:
    """Read a referral form (.eml, .docx, .pdf or .txt) and show what it says. No side effects."""
    from handlers.referral import ReferralRejected
    from handlers.referral import parse_referral as parse

    data = _read(file)
    try:
        with _budget():
            referral = parse(data, file.name)
    except ReferralRejected as exc:
        raise UserError(f"{file.name}: {exc.reason}") from None
    except _TooSlow:
        raise UserError(f"{file.name}: refused: reading it took more than {TIME_LIMIT_S} s") from None
    except MemoryError:
        raise UserError(f"{file.name}: refused: reading it needed too much memory") from None
    except RecursionError:
        raise UserError(f"{file.name}: refused: the document is nested too deeply") from None
    except Exception as exc:  # never a traceback for a bad form
        raise UserError(f"{file.name}: could not read the form ({type(exc).__name__})") from None
    out = referral.as_json()
    if as_json:
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        click.echo(_human(out, file.name))
