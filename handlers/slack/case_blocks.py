"""Block Kit for acting on a reminder: the "Record as done" modal, the updated reminder message,
and the case summary modal. Built with ``slack_sdk.models`` so the SDK validates every limit.

Two audiences, kept apart by function signature rather than by care at the call site:
``recorded_message_blocks`` goes back into a (possibly shared) channel and takes only a
reference, a step label, a Slack user ID and a date; ``case_summary_view`` is a modal that only
the case officer who opened it can see, so it may carry the free-text summary and child details.
"""

from __future__ import annotations

from collections.abc import Mapping
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

from bot.core.lifecycle import DeadlineState, DeadlineStatus
from handlers.slack import ids
from handlers.transports.slack import escape_mrkdwn
from handlers.slack.payloads import ReminderRef, parse_reminder_value

__all__ = ["DONE_ON", "ReminderRef", "amend_view", "assign_view", "case_summary_view", "close_view",
           "parse_reminder_value", "record_done_view", "recorded_message_blocks", "recorded_message_text"]

DONE_ON = "done_on"  # block_id of the date input; modal field errors are keyed on it
_TEXT_MAX = 3000
_FIELD_MAX = 2000
_MODAL_BLOCKS_MAX = 100


def escape(text: str) -> str:
    """Escape user-typed text for mrkdwn, so a summary cannot smuggle in ``<!channel>`` or links
    (the Slack renderer's one escape, so the modal and the channel escape alike)."""
    return escape_mrkdwn(text)


def fmt_day(day: date) -> str:
    return day.strftime("%a %d %b %Y")


def fmt_short(day: date) -> str:
    """``Tue 29 Dec``: how a snooze is confirmed (the year is never in doubt for a day ahead)."""
    return day.strftime("%a %d %b")


def _md(text: str, limit: int = _TEXT_MAX) -> MarkdownTextObject:
    return MarkdownTextObject(text=text[:limit])


def record_done_view(
    *,
    reference: str,
    step_label: str,
    milestone_label: str,
    milestone_key: str,
    due: date,
    today: date,
    private_metadata: str,
) -> View:
    """Confirm before recording: the case, the step, the milestone, and the date it happened.
    ``private_metadata`` is sealed (payloads.RecordDoneMeta)."""
    return View(
        type="modal",
        callback_id=ids.RECORD_DONE_VIEW,
        title=PlainTextObject(text="Record as done"),
        submit=PlainTextObject(text="Record"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[
            SectionBlock(
                block_id="what",
                fields=[
                    _md(f"*Case*\n{reference}", _FIELD_MAX),
                    _md(f"*Step*\n{step_label}", _FIELD_MAX),
                    _md(f"*Will record*\n{milestone_label} (`{milestone_key.replace('_', '-')}`)", _FIELD_MAX),
                    _md(f"*Due*\n{fmt_day(due)}", _FIELD_MAX),
                ],
            ),
            InputBlock(
                block_id=DONE_ON,
                label=PlainTextObject(text="Date it was done"),
                element=DatePickerElement(action_id="value", initial_date=today.isoformat()),
                hint=PlainTextObject(text="The day it actually happened (UK time), not the day you record it."),
            ),
        ],
    )


def _recorded_line(user: str | None, on: date) -> str:
    return f"Recorded by <@{user}> on {fmt_day(on)}" if user else f"Recorded as done on {fmt_day(on)}"


def recorded_message_blocks(reference: str, step_label: str, user: str | None, on: date) -> list[Block]:
    """What the reminder message becomes once done: no buttons, nothing about the child.
    ``user`` is None when the step was recorded elsewhere (another copy, the CLI)."""
    return [
        SectionBlock(
            block_id="recorded",
            text=_md(f":white_check_mark: *{reference}*: *{step_label}* is done."),
        ),
        ContextBlock(elements=[_md(_recorded_line(user, on))]),
    ]


def recorded_message_text(reference: str, step_label: str, user: str | None, on: date) -> str:
    return f"{reference}: {step_label} is done. {_recorded_line(user, on)}"


def _status_text(state: DeadlineState, today: date) -> str:
    if state.overdue_on(today):
        return ":rotating_light: *OVERDUE*"
    if state.status is DeadlineStatus.OPEN:
        return "open"
    if state.status is DeadlineStatus.MET and state.completed_on:
        return f":white_check_mark: met on {fmt_day(state.completed_on)}"
    if state.status is DeadlineStatus.MISSED and state.completed_on:
        return f"missed: done on {fmt_day(state.completed_on)}"
    return state.status.value.replace("_", " ")


def case_summary_view(
    case: Any,
    details: Mapping[str, Any],
    today: date,
    milestone_labels: Mapping[str, str],
) -> View:
    """The case as a case officer sees it, in a modal only they can see.

    ``case`` is a ``bot.cases.CaseView``; ``details`` what ``CaseService.details`` returns.
    Free text is escaped; nothing here is ever posted to a conversation.
    """
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=case.reference[:150]))]
    facts = [
        f"*LA aware*\n{fmt_day(case.la_aware)}",
        f"*Status*\n{case.status}",
        f"*Partnership*\n{escape(case.partnership)}",
        f"*Opened by*\n{_who(case.opened_by)}",
    ]
    if case.incident_date:
        facts.append(f"*Incident*\n{fmt_day(case.incident_date)}")
    if case.owner:
        facts.append(f"*Owner*\n{_who(case.owner)}")
    if case.request_type:
        facts.append(f"*Request*\n{escape(case.request_type)}")
    blocks.append(SectionBlock(block_id="facts", fields=[_md(f, _FIELD_MAX) for f in facts[:10]]))
    if case.summary:
        blocks.append(SectionBlock(block_id="summary", text=_md(f"*Summary*\n{escape(case.summary)}")))
    # Every child in the incident (siblings are one case); the first is the referral's.
    children = list(details.get("children") or [details.get("child") or {}])
    shown_any = False
    for number, child in enumerate(children[:10], start=1):
        shown = [
            (label, child.get(key))
            for label, key in (("Name", "name"), ("Date of birth", "date_of_birth"), ("NHS number", "nhs_number"))
            if child.get(key)
        ]
        if not shown:
            continue
        shown_any = True
        heading = "*Child*" if len(children) == 1 else f"*Child {number}*"
        blocks.append(
            SectionBlock(
                block_id="child" if number == 1 else f"child_{number}",
                text=_md(heading + "\n" + "\n".join(f"{label}: {escape(str(value))}" for label, value in shown)),
            )
        )
    if shown_any:
        blocks.append(ContextBlock(elements=[_md(":lock: Personal data, shown only to you. Do not copy it into a channel.")]))

    blocks.append(DividerBlock())
    if case.milestones:
        lines = [
            f"• {escape(milestone_labels.get(m.kind, m.kind))}: {fmt_day(m.on)} ({_who(m.recorded_by)})"
            for m in case.milestones
        ]
        blocks.append(SectionBlock(block_id="milestones", text=_md("*Milestones*\n" + "\n".join(lines))))
    else:
        blocks.append(SectionBlock(block_id="milestones", text=_md("*Milestones*\nNone recorded yet.")))

    blocks.append(DividerBlock())
    blocks.append(SectionBlock(block_id="deadlines", text=_md("*Deadlines*")))
    for state in case.deadlines:
        if len(blocks) > _MODAL_BLOCKS_MAX - 2:
            break
        deadline = state.deadline
        blocks.append(
            SectionBlock(
                block_id=f"deadline_{deadline.key}"[:255],
                text=_md(f"*{deadline.label}*\n{_status_text(state, today)} · due {fmt_day(deadline.due)}"),
            )
        )
        blocks.append(
            ContextBlock(elements=[_md(f"Rule: {deadline.rule}"), _md(f"Source: {deadline.source}")])
        )
    blocks = blocks[: _MODAL_BLOCKS_MAX - 1]
    blocks.append(case_actions(case))
    return View(
        type="modal",
        callback_id=ids.CASE_SUMMARY_VIEW,
        title=PlainTextObject(text="Case"),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    )


def case_actions(case: Any) -> ActionsBlock:
    """What a case officer can do from the case modal: amend a milestone's date, assign an
    owner, close the case (each opens a modal that asks for the reason where one is needed).
    The buttons carry the reference only."""
    value = ids.case_value(case.reference)
    buttons = []
    if any(not m.voided for m in case.milestones):
        buttons.append(ButtonElement(text="Amend a date", action_id=ids.CASE_AMEND, value=value))
    buttons.append(ButtonElement(text="Assign", action_id=ids.CASE_ASSIGN, value=value))
    if case.status == "open":
        buttons.append(ButtonElement(text="Close the case", action_id=ids.CASE_CLOSE, value=value, style="danger"))
    return ActionsBlock(block_id="case_actions", elements=buttons)


AMEND_MILESTONE, AMEND_ON, REASON, OWNER = "milestone", "on", "reason", "owner"


def _reason_input(hint: str) -> InputBlock:
    return InputBlock(
        block_id=REASON,
        label=PlainTextObject(text="Reason"),
        element=PlainTextInputElement(action_id="value", multiline=True, max_length=500),
        hint=PlainTextObject(text=hint),
    )


def amend_view(case: Any, milestone_labels: Mapping[str, str], today: date, private_metadata: str) -> View:
    """Amend a recorded milestone's date: which one, the right date, why. The milestones are
    the case's own (not voided); the date must still fit the recording rules."""
    options = [
        Option(value=m.key, text=f"{milestone_labels.get(m.kind, m.kind)} ({fmt_day(m.on)})"[:75])
        for m in case.milestones if not m.voided
    ][:100]
    return View(
        type="modal",
        callback_id=ids.CASE_AMEND_VIEW,
        title=PlainTextObject(text="Amend a date"),
        submit=PlainTextObject(text="Amend"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[
            SectionBlock(block_id="case", text=_md(f"*Case {case.reference}*")),
            InputBlock(block_id=AMEND_MILESTONE, label=PlainTextObject(text="Milestone"),
                       element=StaticSelectElement(action_id="value", options=options,
                                                   initial_option=options[-1] if options else None)),
            InputBlock(block_id=AMEND_ON, label=PlainTextObject(text="The right date"),
                       element=DatePickerElement(action_id="value", initial_date=today.isoformat())),
            _reason_input("Why the recorded date was wrong (kept in the audit log: do not name the child)."),
        ],
    )


def assign_view(case: Any, private_metadata: str) -> View:
    """Give the case an owner: reminders and escalations go to them."""
    return View(
        type="modal",
        callback_id=ids.CASE_ASSIGN_VIEW,
        title=PlainTextObject(text="Assign"),
        submit=PlainTextObject(text="Assign"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[
            SectionBlock(block_id="case", text=_md(f"*Case {case.reference}*\nOwner now: {_owner(case.owner)}")),
            InputBlock(block_id=OWNER, label=PlainTextObject(text="New owner"),
                       element=PlainTextInputElement(action_id="value", max_length=320),
                       hint=PlainTextObject(text="A Slack user ID (U0123ABCD) or an e-mail address.")),
        ],
    )


def close_view(case: Any, private_metadata: str) -> View:
    """Close the case, with a reason; the steps still open are named: closing marks them not
    applicable (reopening brings them back)."""
    still_open = [s.deadline.label for s in case.deadlines if s.status is DeadlineStatus.OPEN]
    text = f"*Case {case.reference}*"
    if still_open:
        text += "\n:warning: Still open, will be marked not applicable:\n" + "\n".join(
            f"• {escape(label)}" for label in still_open[:20])
    return View(
        type="modal",
        callback_id=ids.CASE_CLOSE_VIEW,
        title=PlainTextObject(text="Close the case"),
        submit=PlainTextObject(text="Close case"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=private_metadata,
        blocks=[SectionBlock(block_id="case", text=_md(text)),
                _reason_input("Why the partnership closes it (kept in the audit log: do not name the child).")],
    )


def _owner(owner: str | None) -> str:
    """A Slack user ID as a mention, an e-mail address as text, or "nobody"."""
    if owner and "@" not in owner:
        return _who(f"slack:{owner}")
    return escape(owner or "nobody")


def _who(actor: str) -> str:
    """``slack:U123`` as a mention; anything else (``cli:...``, ``mail:...``) as plain text."""
    if actor.startswith("slack:") and actor[6:].isalnum():
        return f"<@{actor[6:]}>"
    return escape(actor)
