"""The criteria assistant in the terminal: numbered answers, ``?`` for help, ``r`` to restart.

Each answer is saved before the next question is shown, so closing the terminal (or EOF on a
scripted stdin) leaves the conversation where it was; the next ``safeguard-bot chat`` resumes.
The conversation is forgotten once its result has been shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TextIO

from bot.conversation import ConversationService, ConversationState
from bot.criteria import CriteriaTree, Flow
from bot.dates import DateError, parse_date
from handlers.console.render import render_evaluation, rationale
from scheduler.calendar import today_in_london

INSTRUCTIONS = "Type the number of your answer; ? explains the question, b goes back, r starts again, q stops."


class TerminalChat:
    """One terminal conversation; ``run`` returns when the user quits, finishes or stdin ends."""

    def __init__(
        self,
        *,
        tree: CriteriaTree,
        flow_key: str,
        conversations: ConversationService,
        conversation_key: str,
        deadlines_for: Callable[[date], Sequence[Any]],
        record_decision: Callable[[str, date, str], str] | None,
        stdin: TextIO,
        echo: Callable[[str], None],
        prompt: Callable[[str], None] | None = None,
        today: Callable[[], date] = today_in_london,
    ) -> None:
        self.flow: Flow = tree.flow(flow_key)
        self.flow_key = flow_key
        self.conversations = conversations
        self.key = conversation_key
        self.deadlines_for = deadlines_for
        self.record_decision = record_decision
        self.stdin = stdin
        self.echo = echo
        self.prompt = prompt or echo
        self.today = today
        # Scripted input is not echoed by a terminal: echo it, so a transcript reads naturally.
        self.echo_input = not (hasattr(stdin, "isatty") and stdin.isatty())

    # Input ----------------------------------------------------------------------------------

    def _read(self, prompt: str) -> str | None:
        """One line, or None at end of input (never raises on EOF)."""
        self.prompt(prompt if prompt.endswith(" ") else prompt + " ")
        try:
            line = self.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            line = ""
        if line == "":
            self.echo("")
            return None
        if self.echo_input:
            self.echo(line.rstrip("\n"))
        return line.strip()

    # State ----------------------------------------------------------------------------------

    def _load(self) -> ConversationState:
        state = self.conversations.load(self.key)
        if state is not None and state.flow == self.flow_key and state.answers:
            try:
                self.flow.check_answers(state.answers)
            except ValueError:  # the question tree changed since: start again
                return ConversationState(self.flow_key)
            self.echo(
                f"Resuming your conversation ({len(state.answers)} answer(s) so far; r starts again)."
            )
            return state
        return ConversationState(self.flow_key)

    def _save(self, answers: dict[str, str], history: list[str]) -> None:
        self.conversations.save(
            self.key, ConversationState(self.flow_key, dict(answers), {"history": list(history)})
        )

    # The conversation -----------------------------------------------------------------------

    def run(self) -> None:
        self.echo(self.flow.title)
        self.echo(self.flow.intro)
        self.echo(INSTRUCTIONS)
        state = self._load()
        answers = dict(state.answers)
        history = [k for k in state.context.get("history", []) if k in answers]
        while True:
            key = self.flow.next_question(answers, include_optional=True)
            if key is None:
                if not self._finish(answers):
                    return
                answers, history = {}, []
                self.conversations.clear(self.key)
                self.echo("\nStarting again.")
                continue
            question = self.flow.question(key)
            self.echo("")
            self.echo(question.text)
            for number, (_, label) in enumerate(question.options, start=1):
                self.echo(f"  {number}) {label}")
            values = [value for value, _ in question.options]
            skip = "none" if question.optional and "none" in values else None
            if skip:
                self.echo("  (Enter: none of these)")
            while True:
                reply = self._read("> ")
                if reply is None or reply.lower() in {"q", "quit", "exit"}:
                    self.echo("\nStopped. Your answers are saved: run `safeguard-bot chat` to carry on.")
                    return
                lowered = reply.lower()
                if lowered in {"?", "help", "h"}:
                    self._help(key)
                    continue
                if lowered in {"r", "restart"}:
                    answers, history = {}, []
                    self.conversations.clear(self.key)
                    self.echo("Starting again.")
                    break
                if lowered in {"b", "back"}:
                    if history:
                        answers.pop(history.pop(), None)
                        self._save(answers, history)
                    break
                if reply == "" and skip:
                    reply = str(values.index(skip) + 1)
                if reply.isdigit() and 1 <= int(reply) <= len(question.options):
                    value, label = question.options[int(reply) - 1]
                    answers[key] = value
                    history.append(key)
                    self._save(answers, history)
                    self.echo(f"  -> {label}")
                    break
                self.echo(
                    f"Please type a number from 1 to {len(question.options)} "
                    "(? for help, r to start again, q to stop)."
                )

    def _help(self, key: str) -> None:
        question = self.flow.question(key)
        self.echo(question.help)
        for value, label in question.options:
            extra = self.flow.option_help(key, value)
            if extra:
                self.echo(f"  {label}: {extra}")
        self.echo(f"Source: {question.source}")

    def _finish(self, answers: dict[str, str]) -> bool:
        """Show the result; True to start again, False to end the session."""
        evaluation = self.flow.evaluate(answers)
        deadlines: Sequence[Any] = ()
        aware = None
        if evaluation.decision == "notify":
            aware = self._ask_date("When did the local authority become aware? (a date; Enter for today)")
            deadlines = self.deadlines_for(aware)
        self.echo("")
        self.echo(render_evaluation(evaluation, self.flow, deadlines, aware))
        if evaluation.milestone and self.record_decision is not None:
            reply = self._read(f"\nRecord this decision ({evaluation.title}) on the case? [y/N]")
            if reply is not None and reply.lower() in {"y", "yes"}:
                on = self._ask_date("Date of the decision (Enter for today)")
                reference = self.record_decision(evaluation.milestone, on, rationale(evaluation))
                self.echo(f"Recorded {evaluation.milestone} on {on.isoformat()} for {reference}.")
        self.conversations.clear(self.key)
        reply = self._read("\nType r to start again, or press Enter to finish.")
        return reply is not None and reply.lower() in {"r", "restart"}

    def _ask_date(self, prompt: str) -> date:
        while True:
            reply = self._read(prompt)
            if reply is None or reply == "":
                return self.today()
            try:
                return parse_date(reply)
            except DateError as exc:
                self.echo(f"{exc}")
