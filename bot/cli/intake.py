"""``safeguard-bot intake list|show|release|open-case``: quarantined mail made workable.

Parse, call bot.intake_review (and, for a release, the mail adapter that moves the message
back), print. Every action is audited; nothing is deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.cli.common import (
    EnvironmentFailure,
    actor_of,
    case_service,
    date_option,
    domain_call,
    fmt_day,
    print_json,
    table,
    warn,
)


def _review(ctx: click.Context, *, writing: bool) -> Any:
    from bot.intake_review import IntakeReview

    service = case_service(ctx, writing=writing, must_exist=True)
    return IntakeReview(service.engine, service)


def _london(moment: Any) -> str:
    from scheduler.calendar import LONDON

    return moment.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")


@click.group()
def intake() -> None:
    """Mail the intake handled: what was quarantined, and what to do with it."""


@intake.command("list")
@click.option("--status", default=None, help="Only this status (quarantined, ignored, released, opened, updated).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def intake_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Every message the intake handled, newest first: id, when, sender domain, status, reason."""
    items = _review(ctx, writing=False).list(status=status)
    if as_json:
        print_json([i.as_json() for i in items])
        return
    if not items:
        click.echo("No mail handled yet.")
        return
    rows = [[i.id, _london(i.received_at), i.sender_domain or "-", i.status, i.reference or "-",
             (i.reason or "")[:80]] for i in items]
    click.echo(table(["Id", "Received (London)", "Sender domain", "Status", "Case", "Reason"], rows))


@intake.command("show")
@click.argument("intake_id")
@click.option("--json", "as_json", is_flag=True)
@click.option("--save-original", "save_to", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the message itself (decrypted, mode 0600) to this new file, to read it; audited.")
@click.option("--by", default=None, help="Who takes the copy (default: your login).")
@click.pass_context
def intake_show(ctx: click.Context, intake_id: str, as_json: bool, save_to: Path | None, by: str | None) -> None:
    """One message: its ledger entry and what was done with it (the audit trail)."""
    review = _review(ctx, writing=save_to is not None)  # a copy taken is audited: a write
    if save_to is not None:
        _save_original(review, intake_id, save_to, by)
    item, trail = domain_call(lambda: review.show(intake_id))
    if as_json:
        print_json({**item.as_json(), "history": trail})
        return
    click.echo(f"{item.id}  {item.status}")
    click.echo(f"Received:      {_london(item.received_at)} (London), mailbox {item.mailbox}")
    click.echo(f"Sender domain: {item.sender_domain or '-'}")
    click.echo(f"Message-ID:    {item.message_id}")
    if item.reason:
        click.echo(f"Reason:        {item.reason}")
    if item.reference:
        click.echo(f"Case:          {item.reference}")
    for entry in trail:
        click.echo(f"  {entry['at'][:16]}  {entry['action']}  by {entry['actor']}")
    if item.status in ("quarantined", "ignored"):
        click.echo(f"\nNext: `safeguard-bot intake release {item.id}` once the cause is fixed, or "
                   f"`safeguard-bot intake open-case {item.id} --aware DATE` to open a case by hand.")


def _save_original(review: Any, intake_id: str, target: Path, by: str | None) -> None:
    """The original decrypted to ``target``, then the copy audited; if the audit cannot be
    written the copy is removed (no unrecorded copy of a child's referral)."""
    from handlers.mail.release import OriginalUnavailable, save_original

    item, sha256 = domain_call(lambda: review.original_of(intake_id))
    try:
        save_original(review.cases.settings, mailbox=item.mailbox, quarantine_id=item.id,
                      message_sha256=sha256, target=target)
    except OriginalUnavailable as exc:
        raise EnvironmentFailure(str(exc)) from None
    try:
        review.original_saved(intake_id, actor=actor_of(by))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    click.echo(f"Saved the original of {item.id} to {target} (mode 0600): delete it once read.", err=True)


@intake.command("release")
@click.argument("intake_id")
@click.option("--by", default=None)
@click.pass_context
def intake_release(ctx: click.Context, intake_id: str, by: str | None) -> None:
    """Process a held message again (after the allow-list or the label synonyms were fixed)."""
    from handlers.mail.release import ReleaseFailed, return_to_inbox

    review = _review(ctx, writing=True)
    item = domain_call(lambda: review.release(intake_id, actor=actor_of(by)))
    try:
        where = return_to_inbox(review.cases.settings, mailbox=item.mailbox,
                                quarantine_id=item.id, message_id=item.message_id)
    except ReleaseFailed as exc:
        raise EnvironmentFailure(f"{item.id} is released, but {exc}; run `intake release` again") from None
    click.echo(f"Released {item.id}: {where}; the intake processes it again.")


@intake.command("open-case")
@click.argument("intake_id")
@click.option("--aware", required=True, help="Date the LA became aware (usually the day it arrived).")
@click.option("--owner", default=None, help="Case owner: a Slack user ID or an e-mail.")
@click.option("--by", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def intake_open_case(ctx: click.Context, intake_id: str, aware: str, owner: str | None, by: str | None,
                     as_json: bool) -> None:
    """Open a case by hand from a held message."""
    from bot.cli.common import deadline_table
    from scheduler.calendar import today_in_london

    la_aware = date_option(aware, "--aware")
    review = _review(ctx, writing=True)
    view = domain_call(lambda: review.open_case(intake_id, aware=la_aware, actor=actor_of(by), owner=owner))
    for warning in view.warnings:
        warn(warning)
    if as_json:
        print_json(view.as_json())
        return
    click.echo(f"Opened case {view.reference} from {intake_id.upper()} (LA became aware {fmt_day(view.la_aware)})\n")
    click.echo(deadline_table(view.deadlines, today_in_london()))
