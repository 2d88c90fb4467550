"""Every action_id and callback_id the Slack adapter renders and listens for, in one place.

Messages already in people's Slack carry these strings, so they never change: a renamed id
would leave every earlier reminder's buttons answered by no listener. Block Kit builders
(blocks.py, case_blocks.py), the Slack transport that renders reminders
(handlers/transports/slack.py) and the listeners all import them from here.

This module is a leaf (standard library only) so that the transport can import it without
importing the rest of the adapter. It also holds the one encoder the transport needs, the
reminder buttons' value; reading any value back, with validation, is payloads.py's job.
"""

from __future__ import annotations

import json
import re
from typing import Final

# The criteria conversation (buttons on its questions and results) ---------------------------
ANSWER: Final = "sg_answer"  # one per option: sg_answer_0, sg_answer_1, ...
HELP: Final = "sg_help"
RESTART: Final = "sg_restart"
BACK: Final = "sg_back"
START: Final = "sg_start"  # App Home: "Check an incident"
START_REVIEW: Final = f"{START}_review"  # App Home: "Rapid review decision"

# Cases -------------------------------------------------------------------------------------
OPEN_CASE: Final = "sg_open_case"
RECORD_DECISION: Final = "sg_record_decision"
OPEN_CASE_VIEW: Final = "sg_open_case_view"  # callback_id
RECORD_VIEW: Final = "sg_record_view"  # callback_id

# Reminders (rendered by handlers/transports/slack.py and on App Home) --------------------------
RECORD_DONE: Final = "reminder_record_done"
SNOOZE: Final = "reminder_snooze"
CASE_VIEW: Final = "case_view"
RECORD_DONE_VIEW: Final = "reminder_record_done_view"  # callback_id
CASE_SUMMARY_VIEW: Final = "case_summary_view"  # callback_id (a read-only modal: no listener)

# Putting a case right, from the case modal (case officers only) -----------------------------
CASE_AMEND: Final = "case_amend"  # button: amend a milestone's date
CASE_ASSIGN: Final = "case_assign"  # button: give the case an owner
CASE_CLOSE: Final = "case_close"  # button: close the case
CASE_AMEND_VIEW: Final = "case_amend_view"  # callback_id
CASE_ASSIGN_VIEW: Final = "case_assign_view"  # callback_id
CASE_CLOSE_VIEW: Final = "case_close_view"  # callback_id

# The rapid review as a run process (issue 14), on App Home -------------------------------------
RAPID_REVIEW_START: Final = "rapid_review_start"  # button: start the rapid review (officers)
RAPID_REVIEW_SIGNOFF: Final = "rapid_review_signoff"  # button: a safeguarding partner signs off

# What the listeners match on where one listener serves several ids.
ANSWER_PATTERN: Final = re.compile(rf"^{ANSWER}_\d+$")
START_PATTERN: Final = re.compile(rf"^{START}(_review)?$")


def answer_action(index: int) -> str:
    """The action_id of the ``index``-th answer button (Slack wants action_ids unique per block)."""
    return f"{ANSWER}_{index}"


def reminder_value(reference: str, deadline: str) -> str:
    """A reminder button's value: JSON with the case reference and the deadline key, nothing
    about the child. payloads.parse_reminder_value reads it back."""
    return json.dumps({"reference": reference, "deadline": deadline})


def case_value(reference: str) -> str:
    """A case button's value: JSON with the case reference only (payloads.parse_case_value)."""
    return json.dumps({"reference": reference})
