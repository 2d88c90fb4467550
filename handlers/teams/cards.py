"""Adaptive Cards for Teams: the conversation engine's turns, the case form and view, the
reminders, notices and digest. Pure functions from domain objects to card JSON (schema 1.5,
``Action.Execute``, so Teams sends an ``adaptiveCard/action`` invoke and shows the card the bot
answers with in place of the old one). No Teams calls here.

Adaptive Cards' ``TextBlock`` renders a subset of Markdown, so every value that goes into one
goes through :func:`plain` here, exactly once: an outsider's ``[Open case](https://evil)``
stays literal text instead of becoming a disguised link. Formatting this module adds (bold
labels) is written around values that are already escaped. Nothing built for a channel (the
case notice, reminders) takes free text or a child's details as input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.core.criteria import Evaluation, Flow, also_notify_text
from handlers.transports.teams import (  # the one Markdown escape, and the card shapes
    CASE_VIEW,
    CONTENT_TYPE,
    RECORD_DONE,
    SNOOZE,
    card,
    digest_card,
    execute,
    fmt,
    notice_card,
    plain,
    reminder_card,
    text,
)

# The verbs the cards' Action.Execute buttons carry (handlers/teams/app.py dispatches on them).
ANSWER, HELP, BACK, RESTART = "answer", "help", "back", "restart"
OPEN_CASE_FORM, OPEN_CASE = "open_case_form", "open_case"
ASSIGN = "assign"
RECORD_FORM, RECORD_DECISION = "record_form", "record_decision"

# --- the criteria assistant -------------------------------------------------------------------

def question_card(
    flow: Flow, key: str, answers: Mapping[str, str], *, show_help: bool = False, note: str | None = None
) -> dict[str, Any]:
    """One question with a button per answer, then "What does this mean?", back (once something
    is answered) and start again; with the guidance and its source when help was asked for."""
    question = flow.question(key)
    body: list[dict[str, Any]] = []
    if note:
        body.append(text(plain(note), subtle=True))
    if not answers:
        body.append(text(plain(flow.title), weight="Bolder", size="Medium"))
        body.append(text(plain(flow.intro)))
    body.append({**text(plain(question.text), weight="Bolder"), "id": f"q_{key}"})
    if show_help:
        lines = [plain(question.help)]
        for value, label in question.options:
            extra = flow.option_help(key, value)
            if extra:
                lines.append(f"**{plain(label)}**: {plain(extra)}")
        body.append({**text("\n\n".join(lines)), "id": f"help_{key}"})
        body.append(text(f"Source: {plain(question.source)}", subtle=True))
    if answers:
        given = ", ".join(flow.question(k).label_for(v) for k, v in answers.items())
        body.append(text(f"So far: {plain(given)}", subtle=True))
    actions = [
        execute(label, ANSWER, {"flow": flow.key, "question": key, "value": value})
        for value, label in question.options
    ]
    actions.append(execute("What does this mean?", HELP, {"flow": flow.key, "question": key}))
    if answers:
        actions.append(execute("Back", BACK, {"flow": flow.key}))
    actions.append(execute("Start again", RESTART, {"flow": flow.key}))
    return card(body, actions)


def result_card(
    flow: Flow,
    evaluation: Evaluation,
    deadlines: Sequence[Any] = (),
    aware: date | None = None,
    open_case: Mapping[str, Any] | None = None,
    record: bool = False,
) -> dict[str, Any]:
    """The decision, every reason with its source, grey areas, the deadlines that would run and
    the next actions. ``open_case`` is the data the "Open a case" button carries (notification
    flow only)."""
    body: list[dict[str, Any]] = [
        text(plain(evaluation.title), weight="Bolder", size="Medium"),
        {**text(f"**Decision: {plain(evaluation.decision)}**\n\n{plain(evaluation.summary)}"), "id": "decision"},
    ]
    if evaluation.also_notify:
        body.append(text(f"**Also notify {plain(also_notify_text(evaluation.also_notify))}.**"))
    body.append(text("**Why**"))
    for index, reason in enumerate(evaluation.reasons):
        body.append({**text(f"- {plain(reason.text)}"), "id": f"reason_{index}"})
        body.append(text(f"Source: {plain(reason.source)}", subtle=True))
    for grey in evaluation.grey_areas:
        body.append(text(f"**{plain(grey.title)}**: {plain(grey.text)}"))
        body.append(text(f"Source: {plain(grey.source)}", subtle=True))
    if deadlines and aware is not None:
        body.append(text(f"**Deadlines if the LA became aware today ({plain(fmt(aware))}, day 0)**"))
        for d in deadlines:
            body.append(text(f"- **{plain(d.label)}**: due {plain(fmt(d.due))} ({plain(d.rule)})"))
        body.append(text("Opening a case asks for the actual date the LA became aware.", subtle=True))
    actions: list[dict[str, Any]] = []
    if open_case is not None:
        actions.append(execute("Open a case", OPEN_CASE_FORM, open_case, primary=True))
    elif record:
        actions.append(execute("Record on a case", RECORD_FORM, {"flow": flow.key}, primary=True))
    actions.append(execute("Start again", RESTART, {"flow": flow.key}))
    return card(body, actions)


def message_card(message: str) -> dict[str, Any]:
    """A one-line answer (a refusal, an error) shown in place of the card that was clicked."""
    return card([text(plain(message))])


# --- cases --------------------------------------------------------------------------------------

def open_case_form(
    partnerships: Sequence[tuple[str, str]], today: date, sealed: str, errors: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The form that opens a case. Child details are optional and stay in the case record;
    ``sealed`` (payloads.MetadataSeal) carries the decision, the answers and the submission id."""
    errors = errors or {}
    body: list[dict[str, Any]] = [text("**Open a case**", size="Medium")]
    if errors:
        body.append(text("Please correct: " + plain("; ".join(f"{k}: {v}" for k, v in errors.items())),
                         weight="Bolder"))
    body += [
        {"type": "Input.Date", "id": "aware", "label": "Date the local authority became aware",
         "value": today.isoformat(), "isRequired": True},
        {"type": "Input.ChoiceSet", "id": "partnership", "label": "Partnership", "isRequired": True,
         "value": partnerships[0][0] if partnerships else "",
         "choices": [{"title": name[:75], "value": key} for key, name in partnerships]},
        {"type": "Input.Text", "id": "summary", "label": "Short summary (stays in the case record)",
         "isRequired": True, "maxLength": 500},
        {"type": "Input.Text", "id": "child_name", "label": "Child's name (optional)", "maxLength": 200},
        {"type": "Input.Date", "id": "child_dob", "label": "Child's date of birth (optional)"},
        {"type": "Input.Text", "id": "nhs_number", "label": "NHS number (optional)", "maxLength": 20},
    ]
    return card(body, [execute("Open case", OPEN_CASE, {"sealed": sealed}, primary=True)])


def record_decision_form(title: str, today: date, sealed: str) -> dict[str, Any]:
    """Which case the rapid review decision is recorded on, and its date. ``sealed`` carries
    the answers (the rationale)."""
    return card(
        [
            text(f"**Record: {plain(title)}**"),
            {"type": "Input.Text", "id": "reference", "label": "Case reference", "isRequired": True,
             "maxLength": 40},
            {"type": "Input.Date", "id": "on", "label": "Date of the decision", "value": today.isoformat(),
             "isRequired": True},
        ],
        [execute("Record", RECORD_DECISION, {"sealed": sealed}, primary=True)],
    )


def _status(state: Any, today: date) -> str:
    status = getattr(state.status, "value", str(state.status))
    if status == "open":
        days = (state.deadline.due - today).days
        when = "today" if days == 0 else (f"in {days} days" if days > 0 else f"{-days} days overdue")
        return f"open, due {fmt(state.deadline.due)} ({when})"
    if state.completed_on:
        return f"{status} on {fmt(state.completed_on)}"
    return status


def case_card(case: Any, today: date) -> dict[str, Any]:
    """The case as a case officer sees it in their personal chat: reference, status, decision,
    owner and every deadline with its rule and source. Never sent to a channel."""
    body: list[dict[str, Any]] = [
        text(f"**{plain(case.reference)}**", size="Medium"),
        text(f"Partnership: {plain(case.partnership)} · status: {plain(str(case.status))}"),
        text(f"LA aware: {plain(fmt(case.la_aware))} · owner: {plain(case.owner or 'nobody')}"),
    ]
    for state in case.deadlines:
        body.append(text(f"- **{plain(state.deadline.label)}**: {plain(_status(state, today))}"))
        body.append(text(f"{plain(state.deadline.rule)} · Source: {plain(state.deadline.source)}", subtle=True))
    actions: list[dict[str, Any]] = []
    nxt = case.next_deadline
    if nxt is not None:
        data = {"reference": case.reference, "deadline": nxt.deadline.key}
        actions += [execute(f"Record as done: {nxt.deadline.label}", RECORD_DONE, data, primary=True),
                    execute("Snooze to next working day", SNOOZE, data)]
    body.append({"type": "Input.Text", "id": "owner", "label": "Assign to (e-mail address or Slack user ID)",
                 "maxLength": 254})
    actions.append(execute("Assign", ASSIGN, {"reference": case.reference}))
    return card(body, actions)


def recorded_card(reference: str, step_label: str, user: str, on: date) -> dict[str, Any]:
    """A reminder once its step is recorded: no buttons left to press twice."""
    return card([text(f"**{plain(reference)}**: {plain(step_label)} recorded as done on "
                      f"{plain(fmt(on))} by {plain(user)}.")])



__all__ = ["CASE_VIEW", "CONTENT_TYPE", "RECORD_DONE", "SNOOZE", "card", "digest_card", "execute", "fmt", "notice_card", "plain", "reminder_card", "text"]
