"""Block Kit for the criteria assistant, built with ``slack_sdk.models`` (validated by the SDK).

Pure functions from domain objects to blocks: no Slack calls here. Nothing built for a channel
(the case notice) takes free text or child details as input, so PII cannot leak into one. The
notice's decision comes back from Slack (a button value, then the modal's private_metadata),
so it is shown only if it is one of the known decisions; values go through the Slack
renderer's one mrkdwn escape (handlers/transports/slack.py). Button values and
private_metadata are made by handlers/slack/payloads.py, which also reads them back: modals
here take their private_metadata already sealed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.core.criteria import NOTIFICATION_DECISIONS, Evaluation, Flow, also_notify_text
from handlers.slack import ids
from handlers.slack.payloads import (
    ReminderRef,
    answer_value,
    help_value,
    open_case_value,
)
from handlers.transports.slack import md

_SECTION_MAX = 3000


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text[:_SECTION_MAX])


def _fmt(day: date) -> str:
    return day.strftime("%a %d %b %Y")


def question_blocks(
    flow: Flow,
    key: str,
    answers: Mapping[str, str],
    *,
    show_help: bool = False,
    note: str | None = None,
) -> list[Block]:
    """One question with a button per answer, then help, back (once something is answered) and
    start-again buttons."""
    question = flow.question(key)
    blocks: list[Block] = []
    if note:
        blocks.append(ContextBlock(elements=[_md(note)]))
    if not answers:
        blocks.append(SectionBlock(text=_md(f"*{flow.title}*\n{flow.intro}")))
    blocks.append(SectionBlock(block_id=f"q_{key}", text=_md(f"*{question.text}*")))
    blocks.append(
        ActionsBlock(
            block_id=f"answers_{key}",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text=label[:75]),
                    action_id=ids.answer_action(index),
                    value=answer_value(flow.key, key, value),
                )
                for index, (value, label) in enumerate(question.options)
            ],
        )
    )
    if show_help:
        lines = [question.help]
        for value, label in question.options:
            extra = flow.option_help(key, value)
            if extra:
                lines.append(f"*{label}*: {extra}")
        blocks.append(SectionBlock(block_id=f"help_{key}", text=_md("\n".join(lines))))
        blocks.append(ContextBlock(elements=[_md(f"Source: {question.source}")]))
    blocks.append(
        ActionsBlock(
            block_id="controls",
            elements=[
                ButtonElement(
                    text=PlainTextObject(text="What does this mean?"),
                    action_id=ids.HELP,
                    value=help_value(flow.key, key),
                ),
                *([ButtonElement(text=PlainTextObject(text="Back"), action_id=ids.BACK, value=flow.key)]
                  if answers else []),
                ButtonElement(
                    text=PlainTextObject(text="Start again"), action_id=ids.RESTART, value=flow.key
                ),
            ],
        )
    )
    if answers:
        given = ", ".join(flow.question(k).label_for(v) for k, v in answers.items())
        blocks.append(ContextBlock(elements=[_md(f"So far: {given}")]))
    return blocks


def result_blocks(
    flow: Flow,
    evaluation: Evaluation,
    deadlines: Sequence[Any] = (),
    aware: date | None = None,
) -> list[Block]:
    """The decision, each reason with its source, grey areas, deadlines and next actions."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=evaluation.title[:150])),
        SectionBlock(block_id="decision", text=_md(f"*Decision: `{evaluation.decision}`*\n{evaluation.summary}")),
    ]
    if evaluation.also_notify:
        blocks.append(
            SectionBlock(
                block_id="also_notify",
                text=_md(f"*Also notify {also_notify_text(evaluation.also_notify)}.*"),
            )
        )
    blocks.append(SectionBlock(text=_md("*Why*")))
    for index, reason in enumerate(evaluation.reasons):
        blocks.append(SectionBlock(block_id=f"reason_{index}", text=_md(f"• {reason.text}")))
        blocks.append(ContextBlock(elements=[_md(f"_Source: {reason.source}_")]))
    for grey in evaluation.grey_areas:
        blocks.append(SectionBlock(block_id=f"grey_{grey.key}", text=_md(f":warning: *{grey.title}*: {grey.text}")))
        blocks.append(ContextBlock(elements=[_md(f"_Source: {grey.source}_")]))
    if deadlines and aware is not None:
        rows = "\n".join(f"• *{d.label}*: due {_fmt(d.due)} ({d.rule})" for d in deadlines)
        blocks.append(DividerBlock())
        blocks.append(
            SectionBlock(
                block_id="deadlines",
                text=_md(f"*Deadlines if the LA became aware today ({_fmt(aware)}, day 0)*\n{rows}"),
            )
        )
        blocks.append(
            ContextBlock(elements=[_md("Opening a case asks for the actual date the LA became aware.")])
        )
    actions: list[ButtonElement] = []
    if flow.key == "notification":
        actions.append(
            ButtonElement(
                text=PlainTextObject(text="Open a case"),
                action_id=ids.OPEN_CASE,
                value=open_case_value(evaluation.decision, evaluation.answers),
                style="primary",
            )
        )
    elif evaluation.milestone:
        actions.append(
            ButtonElement(
                text=PlainTextObject(text="Record on a case"),
                action_id=ids.RECORD_DECISION,
                value=evaluation.decision,
                style="primary",
            )
        )
    actions.append(ButtonElement(text=PlainTextObject(text="Start again"), action_id=ids.RESTART, value=flow.key))
    blocks.append(ActionsBlock(block_id="result_actions", elements=actions))
    return blocks[:50]


def open_case_view(
    partnerships: Sequence[tuple[str, str]],
    today: date,
    private_metadata: str,
) -> View:
    """The modal that opens a case. Child details are optional and stay in the case record.
    ``private_metadata`` is sealed (payloads.OpenCaseMeta): the decision and the submission id."""
    options = [Option(value=key, text=PlainTextObject(text=name[:75])) for key, name in partnerships]
    return View(
        type="modal",
        callback_id=ids.OPEN_CASE_VIEW,
        title=PlainTextObject(text="Open a case"),
        submit=PlainTextObject(text="Open case"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[
            InputBlock(
                block_id="aware",
                label=PlainTextObject(text="Date the local authority became aware"),
                element=DatePickerElement(action_id="value", initial_date=today.isoformat()),
                hint=PlainTextObject(text="Day 0: the 5 working days run from this date."),
            ),
            InputBlock(
                block_id="partnership",
                label=PlainTextObject(text="Partnership"),
                element=StaticSelectElement(
                    action_id="value", options=options, initial_option=options[0]
                ),
            ),
            InputBlock(
                block_id="summary",
                label=PlainTextObject(text="Short summary"),
                element=PlainTextInputElement(action_id="value", multiline=True, max_length=500),
                hint=PlainTextObject(text="Stays in the case record; never posted to a channel."),
            ),
            SectionBlock(
                text=_md("*Child's details (optional).* Kept with the case, never shown in a channel.")
            ),
            InputBlock(
                block_id="child_name",
                optional=True,
                label=PlainTextObject(text="Child's name"),
                element=PlainTextInputElement(action_id="value", max_length=200),
            ),
            InputBlock(
                block_id="child_dob",
                optional=True,
                label=PlainTextObject(text="Date of birth"),
                element=DatePickerElement(action_id="value"),
            ),
            InputBlock(
                block_id="nhs_number",
                optional=True,
                label=PlainTextObject(text="NHS number"),
                element=PlainTextInputElement(action_id="value", max_length=12),
            ),
        ],
    )


def record_decision_view(title: str, today: date, private_metadata: str) -> View:
    """The modal that records a rapid review decision on a case; ``private_metadata`` is
    sealed (payloads.RecordDecisionMeta: the answers that are its rationale)."""
    return View(
        type="modal",
        callback_id=ids.RECORD_VIEW,
        title=PlainTextObject(text="Record the decision"),
        submit=PlainTextObject(text="Record"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[
            SectionBlock(text=_md(f"*{title}*")),
            InputBlock(
                block_id="reference",
                label=PlainTextObject(text="Case reference"),
                element=PlainTextInputElement(action_id="value", max_length=32),
            ),
            InputBlock(
                block_id="on",
                label=PlainTextObject(text="Date of the decision"),
                element=DatePickerElement(action_id="value", initial_date=today.isoformat()),
            ),
        ],
    )


UNKNOWN_DECISION = "unknown"


def known_decision(value: object) -> str:
    """``value`` if it is a decision the criteria can give, else ``unknown``: what Slack sends
    back can be hand-made, and this string is shown in the channel and stored on the case."""
    return value if isinstance(value, str) and value in NOTIFICATION_DECISIONS else UNKNOWN_DECISION


def case_notice_blocks(reference: str, decision: str, next_step: str | None, due: date | None) -> list[Block]:
    """The channel notice: reference, decision and next deadline. Deliberately takes nothing else."""
    due_text = md(f"{next_step}: due {_fmt(due)}") if next_step and due else "none open"
    return [
        SectionBlock(
            block_id="notice",
            text=_md(
                f":file_folder: New case *{md(reference)}*\nDecision: `{known_decision(decision)}`\n"
                f"Next deadline: {due_text}"
            ),
        )
    ]


def case_notice_text(reference: str, decision: str, next_step: str | None, due: date | None) -> str:
    due_text = f"{next_step} due {_fmt(due)}" if next_step and due else "none open"
    return md(f"New case {reference} (decision: {known_decision(decision)}; next deadline: {due_text})")


def home_view(cases: Sequence[Any] | None, today: date,
              rapid_reviews: Mapping[str, str | None] | None = None) -> View:
    """App Home: the viewer's open cases with their next deadline (case officers only), and
    each case's rapid review: its progress and a "Sign off" button, or "Start rapid review"
    (``rapid_reviews``: reference -> progress line, None for a case without one)."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Safeguarding incidents")),
        SectionBlock(
            text=_md("Check an incident against the notification criteria: type `/safeguarding`, "
                     "mention me, or send me a direct message."),
        ),
        ActionsBlock(
            block_id="home_actions",
            elements=[
                ButtonElement(text=PlainTextObject(text="Check an incident"), action_id=ids.START, value="notification"),
                ButtonElement(text=PlainTextObject(text="Rapid review decision"), action_id=ids.START_REVIEW, value="review"),
            ],
        ),
        DividerBlock(),
    ]
    if cases is None:
        blocks.append(SectionBlock(text=_md("Only case officers can see cases.")))
        return View(type="home", blocks=blocks)
    blocks.append(SectionBlock(text=_md(f"*Your open cases* ({len(cases)})")))
    if not cases:
        blocks.append(SectionBlock(text=_md("No open cases.")))
    for case in cases[:40]:
        nxt = case.next_deadline
        if nxt is None:
            line = "No open deadline."
        else:
            overdue = " *OVERDUE*" if nxt.overdue_on(today) else ""
            line = f"Next: {nxt.deadline.label}, due {_fmt(nxt.deadline.due)}{overdue}"
        # The same button, action and handler as on a reminder message (value: reference+deadline).
        done = None
        if nxt is not None:
            done = ButtonElement(
                text=PlainTextObject(text="Record as done"),
                action_id=ids.RECORD_DONE,
                value=ReminderRef(case.reference, nxt.deadline.key).as_value(),
            )
        blocks.append(
            SectionBlock(
                block_id=f"case_{case.reference}",
                text=_md(f"*{case.reference}* · LA aware {_fmt(case.la_aware)}\n{line}"),
                accessory=done,
            )
        )
        if rapid_reviews is not None and case.reference in rapid_reviews:
            blocks.extend(_rapid_review_blocks(case.reference, rapid_reviews[case.reference]))
    return View(type="home", blocks=blocks)


def _rapid_review_blocks(reference: str, progress: str | None) -> list[Block]:
    """A case's rapid review on App Home: progress and "Sign off", or "Start rapid review"."""
    if progress is None:
        return [ActionsBlock(block_id=f"rr_{reference}", elements=[ButtonElement(
            text=PlainTextObject(text="Start rapid review"), action_id=ids.RAPID_REVIEW_START,
            value=ids.case_value(reference))])]
    return [SectionBlock(
        block_id=f"rr_{reference}", text=_md(f"Rapid review: {progress}"),
        accessory=ButtonElement(text=PlainTextObject(text="Sign off"), action_id=ids.RAPID_REVIEW_SIGNOFF,
                                value=ids.case_value(reference)),
    )]


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]
