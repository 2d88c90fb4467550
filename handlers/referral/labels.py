"""Label synonyms from config/referral_labels.toml, and telling what a cell of a form is.

A cell is a section heading, a field label (maybe with its value after a colon or on the next
line), a tick-box choice (maybe with its mark), several marked choices, a bare value, or empty.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from config import ConfigFileError, read_toml
from handlers.referral import marks

SECTIONS = ("referrer", "child", "others", "agencies", "reasons")
FIELD_KEYS = (
    "referrer.name", "referrer.agency", "referrer.email", "referrer.role", "referrer.phone",
    "submission_date", "request_type", "child.name", "child.address", "child.date_of_birth",
    "child.nhs_number", "child.gender", "incident_date", "aware_date", "child_status",
    "parents_carers", "siblings", "gp", "agencies", "summary",
    "agencies.name", "agencies.title", "agencies.agency", "agencies.contact",
    "others.name", "others.address", "others.relationship", "incident_nature",
    "local_authority",
)
OPTION_GROUPS = ("request_type", "child_status", "incident_nature")
ANY = "*"
NOSECTION = "-"


class LabelConfigError(ConfigFileError):
    """referral_labels.toml is wrong; the message names the key."""


def norm(text: str) -> str:
    """Compare labels loosely: case, punctuation, apostrophes, brackets and numbering ignored."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"\([^)]*\)?", " ", t)
    t = re.sub(r"['’‘`.\-]", "", t)
    t = re.sub(r"[^0-9a-z#]+", " ", t).strip()
    t = re.sub(r"^q?\d+[a-z]?\s+(?=[a-z])", "", t)
    return t


@dataclass(frozen=True)
class Match:
    kind: str  # "empty" | "heading" | "field" | "option" | "options" | "value"
    key: str | None = None  # section, field key or option group
    value: str | None = None  # a field's inline value
    option: str | None = None
    state: bool | None = None  # an option's mark
    picks: tuple[tuple[str, str, bool], ...] = ()  # for "options": (group, option, ticked)
    # Text stated beside a ticked box ("Known to Early Help Services (Please State) [X]
    # Northtown Family Hub"): for "option" in ``value``, for "options" here as (group, option, text).
    details: tuple[tuple[str, str, str], ...] = ()

    @property
    def is_label(self) -> bool:
        return self.kind in ("heading", "field", "option", "options")


class LabelBook:
    """The loaded synonyms, with the lookups the extractor needs."""

    def __init__(self, raw: dict) -> None:
        self.headings: dict[str, str] = {}
        self.fields: dict[str, dict[str, str]] = {}  # norm label -> {section|ANY|NOSECTION: key}
        self.options: dict[str, tuple[str, str]] = {}  # norm label -> (group, option)
        self.max_words = 1
        for section, labels in _table(raw, "sections").items():
            if section not in SECTIONS:
                raise LabelConfigError(f"referral_labels.toml: [sections] unknown section {section!r}")
            for label in _labels(labels, f"sections.{section}"):
                self.headings[norm(label)] = section
        for key, spec in _table(raw, "fields").items():
            if key not in FIELD_KEYS:
                raise LabelConfigError(f"referral_labels.toml: unknown field key {key!r}")
            if not isinstance(spec, dict):
                raise LabelConfigError(f"referral_labels.toml: fields.{key} must be a table")
            for scope, labels in spec.items():
                where = {"labels": ANY, "nosection": NOSECTION}.get(scope, scope)
                if where not in (ANY, NOSECTION) and where not in SECTIONS:
                    raise LabelConfigError(f"referral_labels.toml: fields.{key}.{scope}: unknown section")
                for label in _labels(labels, f"fields.{key}.{scope}"):
                    self._add_field(norm(label), where, key)
        for group, choices in _table(raw, "options").items():
            if group not in OPTION_GROUPS:
                raise LabelConfigError(f"referral_labels.toml: unknown option group {group!r}")
            for option, labels in choices.items():
                for label in _labels(labels, f"options.{group}.{option}"):
                    self.options[norm(label)] = (group, option)
        for label in (*self.headings, *self.fields, *self.options):
            self.max_words = max(self.max_words, len(label.split()))

    def _add_field(self, label: str, where: str, key: str) -> None:
        if not label:
            return
        self.fields.setdefault(label, {})[where] = key

    # --- lookups ---------------------------------------------------------------------------

    def field_for(self, label: str, section: str | None) -> str | None:
        scopes = self.fields.get(label)
        if not scopes:
            return None
        if section and section in scopes:
            return scopes[section]
        if ANY in scopes:
            return scopes[ANY]
        if section is None and NOSECTION in scopes:
            return scopes[NOSECTION]
        return None

    def is_any_label(self, text: str) -> bool:
        n = norm(text)
        return n in self.fields or n in self.options or n in self.headings

    def options_in(self, group: str, text: str) -> list[str]:
        """Choices of ``group`` named anywhere in free text ("Child Protection Plan since May")."""
        n = f" {norm(text)} "
        found: list[str] = []
        for label in sorted(self.options, key=len, reverse=True):
            g, option = self.options[label]
            if g != group or f" {label} " not in n:
                continue
            n = n.replace(f" {label} ", "  ", 1)
            if option not in found:
                found.append(option)
        return found

    def classify(self, text: str, section: str | None, *, loose: bool = False) -> Match:
        """What ``text`` (one cell, or one line of text) is, read in ``section``.

        ``loose`` allows "Date of Birth 04/01/2012" (label and value separated by a space only,
        as PDF text often is) for labels of two or more words.
        """
        stripped = text.strip()
        if not stripped:
            return Match("empty")
        if marks.mark_state(stripped) is not None and not self.is_any_label(stripped):
            return Match("value", value=stripped)
        whole = self._whole(stripped, section)
        if whole:
            return whole
        numbered = self._numbered_heading(stripped, section)
        if numbered:
            return numbered
        # "Label: value" or "Label\nvalue" in one cell.
        split = self._split(stripped, section)
        if split:
            return split
        multi = self._marked_options(stripped)
        if multi:
            return multi
        if loose:
            prefixed = self._prefix(stripped, section)
            if prefixed:
                return prefixed
        return Match("value", value=stripped)

    def _whole(self, text: str, section: str | None) -> Match | None:
        n = norm(text)
        if not n:
            return None if marks.mark_state(text) is None else Match("value", value=text)
        if n in self.headings and not marks.has_box(text):
            return Match("heading", key=self.headings[n])
        key = self.field_for(n, section)
        if key:
            return Match("field", key=key)
        bare, state = marks.strip_marks(text)
        nb = norm(bare)
        if nb in self.options:
            group, option = self.options[nb]
            return Match("option", key=group, option=option, state=state)
        return None

    def _split(self, text: str, section: str | None) -> Match | None:
        candidates: list[tuple[str, str]] = []
        if "\n" in text:
            first, rest = text.split("\n", 1)
            candidates.append((first, rest))
        colon = re.search(r"[:：]", text)
        if colon:
            candidates.append((text[: colon.start()], text[colon.end() :]))
        for label, rest in candidates:
            n = norm(label)
            if not n or len(n.split()) > self.max_words + 2:
                continue
            key = self.field_for(n, section)
            if key:
                return Match("field", key=key, value=_drop_hint(rest))
            if n in self.options:
                group, option = self.options[n]
                if not rest.strip():  # "Learning Request:" with nothing after it: not ticked
                    return Match("option", key=group, option=option, state=False)
                state, detail = state_and_detail(rest)
                return Match("option", key=group, option=option, state=state, value=detail)
            if n in self.headings and not rest.strip():
                return Match("heading", key=self.headings[n])
        return None

    def _marked_options(self, text: str) -> Match | None:
        if not marks.has_box(text):
            return None
        best: tuple[tuple[str, str, bool], ...] = ()
        best_details: tuple[tuple[str, str, str], ...] = ()
        starts_with_mark = bool(re.match(r"\s*(?:\[|\(|\||[☒☑☐□■⌧✓✔✗✘]|[xX]\s)", text))
        for marks_first in ((True, False) if starts_with_mark else (False, True)):
            picks: list[tuple[str, str, bool]] = []
            details: list[tuple[str, str, str]] = []
            unknown = 0
            segments = marks.segments(text, marks_first)
            for k, (label, state) in enumerate(segments):
                nl = norm(label)
                if not nl:
                    continue
                if nl in self.options and state is not None:
                    group, option = self.options[nl]
                    picks.append((group, option, state))
                elif nl in self.fields or nl in self.headings:
                    continue
                elif not marks_first and state is None and k == len(segments) - 1 and picks:
                    # the text after the last box, beside the choice it follows: "(Please State)"
                    group, option, _ = picks[-1]
                    details.append((group, option, label.strip()))
                else:
                    unknown += 1
            if picks and not unknown and len(picks) > len(best):
                best, best_details = tuple(picks), tuple(details)
        return Match("options", picks=best, details=best_details) if best else None

    def _numbered_heading(self, text: str, section: str | None) -> Match | None:
        """"Section C: Summary of the incident and rationale for the request" (or "Part 3 -
        ..."): a heading that starts with a known section or field label and goes on to describe
        what the free text under it should say. The text after the known label is not a value."""
        marker = _SECTION_MARKER.match(text)
        if marker is None:
            return None
        rest = text[marker.end() :].strip()
        if not rest:
            return None
        whole = self._whole(rest, section)
        if whole and whole.kind in ("heading", "field"):
            return whole
        n = norm(rest)
        words = n.split()
        for k in range(min(len(words), self.max_words), 0, -1):
            label = " ".join(words[:k])
            if label in self.headings:
                return Match("heading", key=self.headings[label])
            key = self.field_for(label, section)
            if key:
                return Match("field", key=key)
        return None

    def _prefix(self, text: str, section: str | None) -> Match | None:
        words = list(re.finditer(r"\S+", text))
        tokens: list[tuple[str, int]] = []  # (normalised token, end offset of its word)
        for word in words[: self.max_words + 2]:
            for tok in norm(word.group()).split():
                tokens.append((tok, word.end()))
        for k in range(min(len(tokens), self.max_words), 1, -1):
            if k < len(tokens) and tokens[k][1] == tokens[k - 1][1]:
                continue  # would cut a word in two
            label = " ".join(t for t, _ in tokens[:k])
            key = self.field_for(label, section)
            if key:
                rest = text[tokens[k - 1][1] :].strip(" \t:-–")
                if rest:
                    return Match("field", key=key, value=rest)
        return None


# "Section C:", "Part 2 -", "SECTION 3a." (one letter, or a number): never "Part of an ...".
_SECTION_MARKER = re.compile(
    r"^\s*(?:section|part)\s+(?:[A-Za-z]|\d{1,2}[A-Za-z]?)\s*[:.)\-–—]?\s+", re.IGNORECASE
)


def state_and_detail(text: str) -> tuple[bool | None, str | None]:
    """A box's state and any text stated beside it: "☒ Northtown Family Hub" -> (True, "Northtown
    Family Hub"); "X" -> (True, None); "Northtown Family Hub" (no box) -> (True, the text: a choice
    whose name is followed by what it asks to be stated); "" -> (None, None)."""
    stripped = text.strip()
    if not stripped:
        return None, None
    state = marks.mark_state(stripped)
    if state is not None:
        return state, None
    bare, state = marks.strip_marks(stripped)
    if state is not None:
        return state, (bare or None)
    return True, stripped


def _drop_hint(rest: str) -> str:
    """A value without a leading bracketed instruction ("(Agencies involved and why ...)")."""
    text = rest.strip()
    if text.startswith("("):
        close = text.find(")")
        if close != -1:
            text = text[close + 1 :].strip()
    return text


def _table(raw: dict, name: str) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise LabelConfigError(f"referral_labels.toml: [{name}] must be a table")
    return value


def _labels(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LabelConfigError(f"referral_labels.toml: {where} must be a list of strings")
    return value


def load_labels(path: Path | None = None) -> LabelBook:
    """Read and check the synonyms file (default: config/referral_labels.toml)."""
    try:
        raw, _origin = read_toml("referral_labels.toml", path)
    except ConfigFileError as exc:
        raise LabelConfigError(str(exc)) from None
    return LabelBook(raw)


@lru_cache(maxsize=1)
def default_labels() -> LabelBook:
    return load_labels()
