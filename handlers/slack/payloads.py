"""The one codec for what the bot puts into Slack and reads back: button values, modal
``private_metadata`` and the values of a submitted modal.

Everything Slack sends is input. Slack returns button values and ``private_metadata`` as we
wrote them, but a request signed with the signing secret (or a Slack bug) can carry anything,
so each is parsed here and nowhere else, and anything malformed is refused with
``PayloadError`` (a ValueError that names the modal field to show the refusal on, if any). The
listeners turn it into a ``response_action: errors`` for a modal or a short private reply for
a button: never an exception that leaves Slack without an answer.

Button values are plain (a reference and a deadline key, a flow and an answer: nothing secret,
and every use is checked against the case and the officer list anyway). ``private_metadata``
is sealed: HMAC-SHA256 with a key derived from the signing secret (or the bot token), over the
modal's kind, the user it was opened for, when, and the data. So the message a "Record as done"
modal will update, the decision an "Open a case" modal records, and the submission id that
makes that modal open one case however often it is submitted are the bot's own words, not the
client's.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from handlers.slack.ids import reminder_value

METADATA_MAX = 3000  # Slack's limit on private_metadata
METADATA_MAX_AGE = 24 * 3600  # a modal left open longer than a day is opened again
_VERSION = "v1"
_TOKEN = r"^[A-Za-z0-9_.\-]{1,80}$"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Token = Annotated[str, StringConstraints(pattern=_TOKEN)]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$")]
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,32}$")]
MessageTs = Annotated[str, StringConstraints(pattern=r"^\d{1,12}\.\d{1,9}$")]
SubmissionId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


class PayloadError(ValueError):
    """A button value, private_metadata or modal value that is not one the bot made (or no
    longer valid). ``field`` is the modal block to show ``message`` on, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- button values --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReminderRef:
    """What a reminder button carries: which case, which deadline. Nothing personal."""

    reference: str
    deadline: str

    def as_value(self) -> str:
        return reminder_value(self.reference, self.deadline)


class _ReminderValue(_Strict):
    reference: Reference
    deadline: Token


def parse_reminder_value(raw: object) -> ReminderRef:
    """A reminder or App Home button's value: JSON ``{"reference", "deadline"}``, as the Slack
    transport renders it. ValueError (PayloadError) for anything else, e.g. an old message
    from an earlier release or a hand-made request."""
    data = _json(raw, "not a reminder button value")
    try:
        value = _ReminderValue.model_validate(data)
    except ValidationError:
        raise PayloadError("not a reminder button value") from None
    return ReminderRef(value.reference, value.deadline)


def _tokens(raw: object, count: int, what: str) -> tuple[str, ...]:
    if not isinstance(raw, str):
        raise PayloadError(f"not {what}")
    parts = raw.split("|")
    if len(parts) != count or not all(re.match(_TOKEN, p) for p in parts):
        raise PayloadError(f"not {what}")
    return tuple(parts)


def answer_value(flow: str, question: str, value: str) -> str:
    return f"{flow}|{question}|{value}"


def parse_answer_value(raw: object) -> tuple[str, str, str]:
    """(flow, question, answer) from an answer button. The keys are checked against the
    criteria by the caller (CriteriaAnswerError); here only their shape."""
    flow, question, value = _tokens(raw, 3, "an answer button value")
    return flow, question, value


def help_value(flow: str, question: str) -> str:
    return f"{flow}|{question}"


def parse_help_value(raw: object) -> tuple[str, str]:
    flow, question = _tokens(raw, 2, "a help button value")
    return flow, question


class _CaseValue(_Strict):
    reference: Reference


def parse_case_value(raw: object) -> str:
    """A case button's value (ids.case_value): the reference; PayloadError for anything else."""
    try:
        return _CaseValue.model_validate(_json(raw, "not a case button value")).reference
    except ValidationError:
        raise PayloadError("not a case button value") from None


def parse_token(raw: object, what: str) -> str:
    """A single key carried by a button (a flow to restart, a decision to open a case with)."""
    (token,) = _tokens(raw, 1, what)
    return token


def open_case_value(decision: str, answers: Mapping[str, str]) -> str:
    """The "Open a case" button's value: the decision and the criteria answers it came from
    (``notify|harm.died|looked_after.no``), so the case records the answers it was opened on
    (the notification conversation itself is gone once it has its result)."""
    return "|".join([decision, *(f"{key}.{value}" for key, value in answers.items())])


def parse_open_case_value(raw: object) -> tuple[str, dict[str, str]]:
    """(decision, answers) from an "Open a case" button; a bare decision has no answers. Only
    the shape is checked here: the case service checks the answers against the criteria."""
    if not isinstance(raw, str) or len(raw) > 2000:
        raise PayloadError("not a decision")
    decision, *pairs = raw.split("|")
    parse_token(decision, "a decision")
    answers: dict[str, str] = {}
    for pair in pairs:
        key, dot, value = pair.partition(".")
        if not dot or not re.match(_TOKEN, key) or not re.match(_TOKEN, value) or key in answers:
            raise PayloadError("not a decision")
        answers[key] = value
    return decision, answers


# --- private_metadata -----------------------------------------------------------------------------

class OpenCaseMeta(_Strict):
    """The "Open a case" modal: the decision it records, the criteria answers it came from and
    the id of this one form, which makes a replayed or double-clicked submission find its case
    instead of opening another."""

    decision: Token
    submission: SubmissionId
    answers: dict[Token, Token] = Field(default_factory=dict, max_length=100)


class RecordDecisionMeta(_Strict):
    """The "Record the decision" modal: the rapid review answers (the rationale)."""

    answers: dict[Token, Token] = Field(max_length=100)


class RecordDoneMeta(_Strict):
    """The "Record as done" modal: the step, and the reminder message to change once recorded
    (``channel``/``ts``: the message the button was on, as Slack said when it was clicked)."""

    reference: Reference
    deadline: Token
    channel: SlackId | None = None
    ts: MessageTs | None = None
    home: bool = False


class CaseMeta(_Strict):
    """The amend, assign and close modals: which case."""

    reference: Reference


_LOCATION = TypeAdapter(tuple[SlackId, MessageTs])


def message_location(channel: object, ts: object) -> tuple[str, str] | None:
    """(channel, ts) if both look like a Slack channel ID and message timestamp, else None."""
    try:
        found = _LOCATION.validate_python((channel, ts), strict=True)
    except ValidationError:
        return None
    return str(found[0]), str(found[1])


def new_submission_id() -> str:
    return secrets.token_hex(16)


class MetadataSeal:
    """Seals and opens ``private_metadata``. ``root`` is a secret the bot already holds (the
    signing secret, else the bot token); without one a random key is used, so sealed modals
    only outlive a restart when there is a secret to derive the key from."""

    def __init__(self, root: str | None, *, clock: Any = time.time) -> None:
        material = root.encode() if root else secrets.token_bytes(32)
        self._key = hmac.new(material, b"safeguard-bot slack private_metadata v1", hashlib.sha256).digest()
        self._clock = clock

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self._key, body, hashlib.sha256).digest()[:20]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def seal(self, kind: str, user: str, data: BaseModel) -> str:
        """``data`` for a modal of ``kind`` opened for ``user``, as private_metadata."""
        envelope = {"k": kind, "u": user, "t": int(self._clock()), "d": data.model_dump(mode="json", exclude_none=True)}
        body = base64.urlsafe_b64encode(json.dumps(envelope, separators=(",", ":")).encode()).rstrip(b"=")
        sealed = f"{_VERSION}.{body.decode()}.{self._mac(body)}"
        if len(sealed) > METADATA_MAX:
            raise ValueError(f"private_metadata would be {len(sealed)} characters (Slack allows {METADATA_MAX})")
        return sealed

    def open(self, kind: str, user: str, raw: object, model: type[M], *, field: str | None = None) -> M:
        """The data sealed for this kind of modal and this user; PayloadError (on ``field``)
        if it was altered, made elsewhere, made for someone else, or is too old."""
        stale = PayloadError("This form is out of date or was not made by this bot: close it and start again.", field)
        if not isinstance(raw, str) or len(raw) > METADATA_MAX:
            raise stale
        parts = raw.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            raise stale
        body = parts[1].encode()
        if not hmac.compare_digest(self._mac(body), parts[2]):
            raise stale
        try:
            envelope = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except (binascii.Error, ValueError):
            raise stale from None
        if not isinstance(envelope, dict) or envelope.get("k") != kind or envelope.get("u") != user:
            raise stale
        issued = envelope.get("t")
        now = self._clock()
        if not isinstance(issued, int) or not (now - METADATA_MAX_AGE <= issued <= now + 300):
            raise stale
        try:
            return model.model_validate(envelope.get("d"))
        except ValidationError:
            raise stale from None


# --- submitted modal values -----------------------------------------------------------------------

class _Option(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    value: str = Field(max_length=200)


class _Element(BaseModel):
    """One input element's state as Slack sends it (action_id ``value`` in every block)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    type: str | None = None
    value: str | None = Field(default=None, max_length=5000)
    selected_date: str | None = Field(default=None, max_length=10)
    selected_option: _Option | None = None


class FormValues:
    """``view.state.values`` of a submitted modal, read one block at a time. An absent block or
    an empty input is None; a block that is there but malformed (wrong types, a date that is not
    YYYY-MM-DD) is PayloadError naming that block, so the modal shows the error beside it."""

    def __init__(self, view: object) -> None:
        state = view.get("state") if isinstance(view, Mapping) else None
        values = state.get("values") if isinstance(state, Mapping) else None
        self._values: Mapping[str, Any] = values if isinstance(values, Mapping) else {}

    def _element(self, block: str) -> _Element | None:
        raw = self._values.get(block)
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise PayloadError("This value could not be read: please enter it again.", block)
        element = raw.get("value")
        if element is None:
            return None
        try:
            return _Element.model_validate(element)
        except ValidationError:
            raise PayloadError("This value could not be read: please enter it again.", block) from None

    def text(self, block: str) -> str | None:
        element = self._element(block)
        text = (element.value or "").strip() if element is not None else ""
        return text or None

    def option(self, block: str) -> str | None:
        element = self._element(block)
        if element is None or element.selected_option is None:
            return None
        return element.selected_option.value

    def date(self, block: str) -> date | None:
        element = self._element(block)
        if element is None or not element.selected_date:
            return None
        raw = element.selected_date
        try:
            if not _ISO_DAY.match(raw):
                raise ValueError(raw)
            return date.fromisoformat(raw)
        except ValueError:
            raise PayloadError("Pick the date with the date picker.", block) from None


def _json(raw: object, what: str) -> Any:
    if not isinstance(raw, str) or len(raw) > 2000:
        raise PayloadError(what)
    try:
        return json.loads(raw)
    except ValueError:
        raise PayloadError(what) from None


# --- answering a modal, whatever happens ----------------------------------------------------------

MODAL_FAILED = "Something went wrong and nothing was recorded. Try again, or close this and start again."

Listener = Callable[..., Awaitable[None]]


def answers_slack(field: str) -> Callable[[Listener], Listener]:
    """A view_submission listener that always answers: if it fails before its ack (a bug, or
    input no check foresaw), the modal is acked with an error on ``field`` rather than Slack
    getting an HTTP 500 and showing "We had some trouble connecting". Bolt passes listener
    arguments by name, read from the wrapped function (functools.wraps keeps them)."""

    def decorate(listener: Listener) -> Listener:
        @functools.wraps(listener)
        async def answered(**kwargs: Any) -> None:
            ack = kwargs["ack"]
            acked = False

            async def tracked(*args: Any, **more: Any) -> None:
                nonlocal acked
                acked = True
                await ack(*args, **more)

            kwargs["ack"] = tracked
            try:
                await listener(**kwargs)
            except Exception as exc:
                # The type only: an exception's message could quote what was typed.
                log.error("the %s listener failed (%s)", listener.__name__, type(exc).__name__)
                if acked:
                    raise
                await ack(response_action="errors", errors={field: MODAL_FAILED})

        return answered

    return decorate
