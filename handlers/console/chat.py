"""The criteria assistant in the terminal: numbered answers, ``?`` for help, ``b`` back, ``r`` restart.

A renderer of the one conversation engine (``bot/core/conversation.py``): it reads a line,
turns it into one of the engine's moves and prints the turn that comes back; it decides nothing
about the flow itself. Each answer is saved before the next question is shown, so closing the
terminal (or EOF on a scripted stdin) leaves the conversation where it was; the next
``safeguard-bot chat`` resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TextIO

from bot.conversation import Conversations, Turn
from bot.core.dates import DateError, parse_date
from handlers.console.render import rationale, render_evaluation
from scheduler.calendar import today_in_london

INSTRUCTIONS = "Type the number of your answer; ? explains the question, b goes back, r starts again, q stops."
QUIT = {"q", "quit", "exit"}
HELP = {"?", "help", "h"}
RESTART = {"r", "restart"}
BACK = {"b", "back"}


class TerminalChat:
    """One terminal conversation; ``run`` returns when the user quits, finishes or stdin ends."""

    def __init__(
        self,
        *,
        conversations: Conversations,
        flow_key: str,
        conversation_key: str,
        # (the evaluation, the LA-aware date) -> the deadlines that result starts
        deadlines_for: Callable[[Any, date], Sequence[Any]],
        # (the decision's milestones, its date, the rationale) -> the case reference
        record_decision: Callable[[Sequence[str], date, str], str] | None,
        stdin: TextIO,
        open_case: Callable[[date, dict[str, str]], str] | None = None,
        echo: Callable[[str], None],
        prompt: Callable[[str], None] | None = None,
        today: Callable[[], date] = today_in_london,
        record_answers: Callable[[Mapping[str, str]], str] | None = None,
    ) -> None:
        self.conversations = conversations
        self.flow_key = flow_key
        self.key = conversation_key
        self.deadlines_for = deadlines_for
        self.record_decision = record_decision
        # The notification flow on a case (``chat --case REF``): the answers become the case's.
        self.record_answers = record_answers
        # Called with (LA-aware date, the answers) when a "notify" result is to become a case.
        self.open_case = open_case
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

    # The conversation -----------------------------------------------------------------------

    def run(self) -> None:
        flow = self.conversations.engine.flow(self.flow_key)
        self.echo(flow.title)
        self.echo(flow.intro)
        self.echo(INSTRUCTIONS)
        turn = self.conversations.start(self.key, flow=self.flow_key)
        if turn.note and turn.state is not None and turn.state.answers:
            self.echo(
                f"Resuming your conversation ({len(turn.state.answers)} answer(s) so far; r starts again)."
            )
        while True:
            if turn.finished:
                if not self._finish(turn):
                    return
                turn = self.conversations.restart(self.key, self.flow_key)
                self.echo("\nStarting again.")
                continue
            next_turn = self._ask(turn)
            if next_turn is None:
                self.echo("\nStopped. Your answers are saved: run `safeguard-bot chat` to carry on.")
                return
            turn = next_turn

    def _ask(self, turn: Turn) -> Turn | None:
        """Show the turn's question and read until the person makes a move (None: they stopped)."""
        assert turn.question is not None
        question = turn.flow.question(turn.question)
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
            if reply is None or reply.lower() in QUIT:
                return None
            lowered = reply.lower()
            if lowered in HELP:
                self._help(self.conversations.help(self.key, turn.flow.key, question.key))
                continue
            if lowered in RESTART:
                self.echo("Starting again.")
                return self.conversations.restart(self.key, turn.flow.key)
            if lowered in BACK:
                return self.conversations.back(self.key, turn.flow.key)
            if reply == "" and skip:
                reply = str(values.index(skip) + 1)
            if reply.isdigit() and 1 <= int(reply) <= len(question.options):
                value, label = question.options[int(reply) - 1]
                self.echo(f"  -> {label}")
                return self.conversations.answer(self.key, turn.flow.key, question.key, value)
            self.echo(
                f"Please type a number from 1 to {len(question.options)} "
                "(? for help, r to start again, q to stop)."
            )

    def _help(self, turn: Turn) -> None:
        assert turn.question is not None
        question = turn.flow.question(turn.question)
        self.echo(question.help)
        for value, label in question.options:
            extra = turn.flow.option_help(question.key, value)
            if extra:
                self.echo(f"  {label}: {extra}")
        self.echo(f"Source: {question.source}")

    def _finish(self, turn: Turn) -> bool:
        """Show the result; True to start again, False to end the session."""
        evaluation = turn.evaluation
        assert evaluation is not None
        deadlines: Sequence[Any] = ()
        aware = None
        if evaluation.decision == "notify" or evaluation.also_notify:  # a result that starts steps
            aware = self._ask_date("When did the local authority become aware? (a date; Enter for today)")
            deadlines = self.deadlines_for(evaluation, aware)
        self.echo("")
        self.echo(render_evaluation(evaluation, turn.flow, deadlines, aware))
        if evaluation.decision == "notify" and aware is not None and self.open_case is not None:
            reply = self._read(f"\nOpen a case now, aware {aware.isoformat()}, with these answers? [y/N]")
            if reply is not None and reply.lower() in {"y", "yes"}:
                reference = self.open_case(aware, dict(evaluation.answers))
                self.conversations.forget(self.key)
                self.echo(f"Opened case {reference}; its deadlines and reminders are running.")
        if evaluation.milestone and self.record_decision is not None:
            reply = self._read(f"\nRecord this decision ({evaluation.title}) on the case? [y/N]")
            if reply is not None and reply.lower() in {"y", "yes"}:
                on = self._ask_date("Date of the decision (Enter for today)")
                reference = self.record_decision(evaluation.milestones, on, rationale(evaluation))
                self.conversations.forget(self.key)
                done = " and ".join(evaluation.milestones)
                self.echo(f"Recorded {done} on {on.isoformat()} for {reference}.")
        if turn.flow.key == "notification" and self.record_answers is not None:
            reply = self._read("\nRecord these answers and the decision on the case? [y/N]")
            if reply is not None and reply.lower() in {"y", "yes"}:
                reference = self.record_answers(evaluation.answers)
                self.echo(f"Recorded the criteria answers ({evaluation.decision}) on {reference}.")
        reply = self._read("\nType r to start again, or press Enter to finish.")
        return reply is not None and reply.lower() in RESTART

    def _ask_date(self, prompt: str) -> date:
        while True:
            reply = self._read(prompt)
            if reply is None or reply == "":
                return self.today()
            try:
                return parse_date(reply)
            except DateError as exc:
                self.echo(f"{exc}")
