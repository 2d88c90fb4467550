"""The Bolt listeners, one module per concern, each with ``register(app, assistant)``.

As in slackapi's bolt-python app templates: a listener acks, parses its request, calls one
SlackAssistant method and answers Slack. handlers/slack/app.py registers every module here.
"""

from __future__ import annotations

from handlers.slack.listeners import (
    case_admin,
    cases,
    conversation,
    home,
    rapid_review,
    reminders,
    report,
)

# ``report`` before ``conversation``: its matcher takes ``/safeguarding report`` first.
MODULES = (report, conversation, cases, reminders, home, case_admin, rapid_review)

__all__ = [
    "MODULES", "case_admin", "cases", "conversation", "home", "rapid_review", "reminders", "report",
]
