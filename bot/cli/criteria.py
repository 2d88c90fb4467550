"""``safeguard-bot criteria`` (one-shot evaluation) and ``safeguard-bot chat`` (the terminal chat).

``criteria`` is a stable contract used by acceptance checks: ``--answer KEY=VALUE`` repeated,
``--aware DATE`` for the deadlines, ``--json`` for a machine-readable object. User errors raise
``bot.cli.common.UserError`` so ``bot.cli.main`` prints one line and exits 2.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click

from bot.cli.common import (
    UserError,
    actor_of,
    case_service,
    database_of,
    date_option,
    domain_call,
    print_json,
    settings_of,
    warn,
)


def _tree(ctx: click.Context) -> Any:
    from bot.core.criteria import CriteriaConfigError

    settings = settings_of(ctx)
    try:
        return settings.criteria()
    except CriteriaConfigError as exc:
        raise UserError(str(exc)) from None


def notification_deadlines(settings: Any, evaluation: Any, aware: date, partnership: str | None = None) -> list[Any]:
    """The deadlines the criteria result starts, from the LA's awareness (bot.core.lifecycle
    result_deadlines: the steps a case opened with these answers runs)."""
    from bot.core.lifecycle import result_deadlines
    from bot.settings import SettingsError
    from scheduler.timescales import TimescaleConfigError

    try:
        chosen = settings.partnership(partnership)
        return result_deadlines(evaluation.decision, evaluation.also_notify, aware,
                                settings.timescales_for(chosen), settings.calendar_for(chosen))
    except (SettingsError, TimescaleConfigError) as exc:
        raise UserError(str(exc)) from None


@click.command()
@click.option(
    "--answer",
    "answers",
    multiple=True,
    metavar="KEY=VALUE",
    help="An answer, e.g. harm=died (repeat for each). Keys: age, abuse_or_neglect, harm, location, "
    "looked_after, care_leaver_under_25, family_known_to_csc.",
)
@click.option("--aware", default=None, help="Date the LA became aware (default: today, London).")
@click.option("--flow", "flow_key", default="notification", show_default=True,
              help="notification, or review (the rapid review decision).")
@click.option("--partnership", default=None, help="Partnership key (closure days, anchors).")
@click.option("--record", "record_ref", default=None, metavar="REF",
              help="Review flow: record the decision on this case, with the rationale. "
              "Notification flow: record the answers and the decision on this case.")
@click.option("--on", "record_on", default=None, help="Date of the decision (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def criteria(
    ctx: click.Context,
    answers: tuple[str, ...],
    aware: str | None,
    flow_key: str,
    partnership: str | None,
    record_ref: str | None,
    record_on: str | None,
    as_json: bool,
) -> None:
    """Does an incident need a serious incident notification? Evaluate answers without a chat."""
    from bot.core.criteria import CriteriaAnswerError, parse_answer_pairs
    from bot.core.lifecycle import LifecycleError, check_awareness
    from handlers.console.render import render_evaluation
    from scheduler.calendar import today_in_london

    tree = _tree(ctx)
    try:
        flow = tree.flow(flow_key)
        evaluation = flow.evaluate(parse_answer_pairs(answers))
    except CriteriaAnswerError as exc:
        raise UserError(str(exc)) from None
    la_aware = date_option(aware, "--aware") or today_in_london()
    try:
        check_awareness(la_aware)
    except LifecycleError as exc:
        raise UserError(f"--aware: {exc}") from None

    deadlines = notification_deadlines(settings_of(ctx), evaluation, la_aware, partnership)

    recorded = None
    if record_ref is not None:
        recorded = _record_decision(ctx, evaluation, record_ref, record_on)

    if as_json:
        data = evaluation.as_json()
        if evaluation.flow == "notification":
            data["aware"] = la_aware.isoformat()
            data["deadlines"] = [d.as_json() for d in deadlines]
        if recorded is not None:
            data["recorded"] = recorded
        print_json(data)
        return
    click.echo(render_evaluation(evaluation, flow, deadlines, la_aware if deadlines else None))
    if recorded is not None and "milestone" in recorded:
        done = " and ".join(m for m in (recorded["milestone"], recorded.get("also_milestone")) if m)
        click.echo(f"\nRecorded {done} on {recorded['on']} for {recorded['case']}.")
    elif recorded is not None:
        click.echo(f"\nRecorded the answers ({recorded['decision']}) on {recorded['case']}.")


def _record_decision(ctx: click.Context, evaluation: Any, reference: str, on: str | None) -> dict:
    from handlers.console.render import rationale
    from scheduler.calendar import today_in_london

    if evaluation.flow != "review":
        # The notification flow's answers become the case's (case assess): its steps follow.
        service = case_service(ctx)
        view = domain_call(
            lambda: service.assess(reference, evaluation.answers, actor=actor_of(None))
        )
        for warning in view.warnings:
            warn(warning)
        return {"case": view.reference, "answers": dict(view.answers), "decision": view.decision}
    if not evaluation.complete:
        raise UserError(f"--record: answer {evaluation.next_question} first")
    occurred = date_option(on, "--on") or today_in_london()
    service = case_service(ctx)
    view = domain_call(
        lambda: service.record_decision(
            reference, evaluation.milestones, on=occurred, actor=actor_of(None),
            note=rationale(evaluation),
        )
    )
    for warning in view.warnings:
        warn(warning)
    recorded = {"case": view.reference, "milestone": evaluation.milestone, "on": occurred.isoformat()}
    if evaluation.also_milestone:
        recorded["also_milestone"] = evaluation.also_milestone
    return recorded


@click.command()
@click.option("--flow", "flow_key", default="notification", show_default=True,
              help="notification, or review (the rapid review decision).")
@click.option("--case", "case_ref", default=None, metavar="REF",
              help="Record the result on this case at the end: the review flow's decision, or "
              "the notification flow's answers and decision.")
@click.option("--user", default=None, help="Whose conversation to resume (default: your login).")
@click.pass_context
def chat(ctx: click.Context, flow_key: str, case_ref: str | None, user: str | None) -> None:
    """Answer the criteria questions interactively (numbers, ? for help, r to restart)."""
    from bot.conversation import Conversations
    from bot.core.criteria import CriteriaAnswerError
    from handlers.console.chat import TerminalChat

    tree = _tree(ctx)
    try:
        tree.flow(flow_key)
    except CriteriaAnswerError as exc:
        raise UserError(str(exc)) from None
    settings = settings_of(ctx)
    engine = database_of(ctx, writing=True)  # answers are saved as they are given
    actor = user or actor_of(None)

    def deadlines_for(evaluation: Any, aware: date) -> list[Any]:
        return notification_deadlines(settings, evaluation, aware)

    def record(milestones: Any, on: date, note: str) -> str:
        service = case_service(ctx)
        kinds = [milestones] if isinstance(milestones, str) else list(milestones)
        view = domain_call(
            lambda: service.record_decision(case_ref, kinds, on=on, actor=actor, note=note)
        )
        for warning in view.warnings:
            warn(warning)
        return str(view.reference)

    def record_answers(answers: Any) -> str:
        service = case_service(ctx)
        view = domain_call(lambda: service.assess(case_ref, answers, actor=actor))
        for warning in view.warnings:
            warn(warning)
        return str(view.reference)

    def open_case(aware: date, answers: dict[str, str]) -> str:
        service = case_service(ctx)
        view = domain_call(lambda: service.open_case_from_answers(la_aware=aware, answers=answers, actor=actor))
        for warning in view.warnings:
            warn(warning)
        return str(view.reference)

    session = TerminalChat(
        open_case=open_case if flow_key == "notification" and not case_ref else None,
        conversations=Conversations(engine, tree),
        flow_key=flow_key,
        conversation_key=f"terminal:{actor}:{flow_key}",
        deadlines_for=deadlines_for,
        record_decision=record if case_ref else None,
        stdin=sys.stdin,
        echo=click.echo,
        prompt=lambda text: click.echo(text, nl=False),
        record_answers=record_answers if case_ref else None,
    )
    session.run()
