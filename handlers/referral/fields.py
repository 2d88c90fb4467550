"""From rows of cells to a ``Referral``: sections, label/value layouts and tick boxes.

One extractor serves every format. It keeps the current section (so "Name" means the referrer's
or the child's name), reads label-left rows ("Name | Ann"), label-above rows (a heading row, then
the values or tick marks under each heading, even with a heading the label book does not know
or, in a PDF's text layer, a blank line between), "Label: value" lines with values running onto
the next lines, free text under a section-heading paragraph ("Section C: Summary of the incident
and rationale ..."), and tick boxes however they were written, with any text stated beside a
ticked box ("Known to Early Help Services (Please State) [X] Northtown Family Hub") kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from bot.core.dates import search_date
from bot.core import nhs
from handlers.referral import marks
from handlers.referral.blocks import Cell, Row
from handlers.referral.labels import OPTION_GROUPS, LabelBook, Match, default_labels, state_and_detail
from bot.core.referral import CHILD_STATUSES, INCIDENT_NATURES, REQUEST_TYPES, Referral, criteria_answers

MULTILINE = {"child.address", "summary", "parents_carers", "siblings", "gp", "agencies",
             "others.address", "agencies.contact"}
LIST_SECTIONS = ("agencies", "others")
_RECORD_PREFIXES = ("agencies.", "others.")
_SIGN_OFF = re.compile(
    r"^(?:kind(?:est)? regards|regards|many thanks|thanks|thank you|best wishes|yours sincerely|"
    r"yours faithfully|sent from my|--\s*$|_{5,})",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_MAX_SUMMARY = 20_000

REQUIRED: tuple[tuple[str, str], ...] = (
    ("request_type", "request type (serious incident notification or learning request)"),
    ("referrer.name", "referrer's name"),
    ("referrer.agency", "referrer's agency"),
    ("referrer.email", "referrer's email address"),
    ("child.name", "child's name"),
    ("child.date_of_birth", "child's date of birth"),
    ("child.address", "child's address"),
    ("child.nhs_number", "child's NHS number"),
    ("incident_date", "date of death / incident"),
    ("child_status", "child's status at the time of the incident"),
    ("summary", "brief details of the incident"),
)


class Extractor:
    """Feeds on rows; remembers the section, the fields seen and the boxes ticked."""

    def __init__(self, book: LabelBook | None = None) -> None:
        self.book = book or default_labels()
        self.section: str | None = None
        self.values: dict[str, str] = {}
        self.ticks: dict[str, dict[str, bool]] = {g: {} for g in OPTION_GROUPS}
        self.details: dict[str, dict[str, str]] = {g: {} for g in OPTION_GROUPS}
        self.unticked_details: list[tuple[str, str]] = []
        self.records: dict[str, list[dict[str, str]]] = {s: [] for s in LIST_SECTIONS}
        self.summary_parts: list[str] = []
        self.pending: str | None = None
        self.pending_lines: list[str] = []
        self.hits = 0

    # --- feeding ------------------------------------------------------------------------------

    def feed(self, rows: Sequence[Row]) -> None:
        i = 0
        while i < len(rows):
            table = rows[i].table
            if table is None:
                i = self._line(rows, i)
                continue
            j = i
            while j < len(rows) and rows[j].table == table:
                j += 1
            label = self.pending if not any(line.strip() for line in self.pending_lines) else None
            self._close_pending()
            if label and self._answer_box(label, rows[i]):
                i += 1  # a label paragraph, its answer in the box drawn under it
                continue
            self._table(rows[i:j])
            i = j
        self._close_pending()

    def _answer_box(self, key: str, row: Row) -> bool:
        """A label paragraph ("Section C: Summary of the incident ...") with nothing after it,
        then a table row holding only free text: the text is that label's answer."""
        if row.is_blank or any(m.kind != "value" and m.kind != "empty" for m in self._classify(row)):
            return False
        self.set(key, "\n".join(c.text for c in row.cells if c.text.strip()))
        return True

    def _classify(self, row: Row, loose: bool = False) -> list[Match]:
        return [self.book.classify(c.text, self.section, loose=loose) for c in row.cells]

    # --- text lines -----------------------------------------------------------------------

    def _line(self, rows: Sequence[Row], i: int) -> int:
        row = rows[i]
        if row.is_blank:
            if self.pending == "summary" or (self.pending is None and self.section == "reasons"):
                self.pending_lines.append("")
            else:
                self._close_pending()
            return i + 1
        cls = self._classify(row, loose=True)
        if not any(m.is_label for m in cls):
            self._continuation(row.text)
            return i + 1
        self._close_pending()
        if len(cls) == 1:
            self._single(cls[0])
            return i + 1
        nxt = i + 1
        # A PDF's text layer often puts a blank line between a heading line and its values:
        # look past up to two, but only to a line of several columns (never to prose).
        ahead = nxt
        while ahead < min(len(rows), nxt + 2) and rows[ahead].table is None and rows[ahead].is_blank:
            ahead += 1
        if ahead != nxt and ahead < len(rows) and len([c for c in rows[ahead].cells if c.text.strip()]) >= 2:
            nxt = ahead
        if (
            self._is_header(cls)
            and nxt < len(rows)
            and rows[nxt].table is None
            and not rows[nxt].is_blank
            and _is_value_row(ncls := self._classify(rows[nxt], loose=True), self.section in LIST_SECTIONS)
            and _choices_fit(row, cls, rows[nxt], ncls)
        ):
            values = [rows[nxt]]
            end = nxt + 1
            if self.section in LIST_SECTIONS:  # one record per line: the agencies under their headings
                end = self._more_records(rows, end, row, cls, values)
            self._above(row, cls, values)
            return end
        self._left(row, cls)
        return i + 1

    def _more_records(self, rows: Sequence[Row], i: int, header: Row, hcls: Sequence[Match],
                      values: list[Row]) -> int:
        """Further lines of a list under its heading line (blank lines between them allowed):
        each of several columns, none a label."""
        while i < len(rows):
            j = i
            while j < len(rows) and rows[j].table is None and rows[j].is_blank and j < i + 2:
                j += 1
            if j >= len(rows) or rows[j].table is not None or len([c for c in rows[j].cells if c.text.strip()]) < 2:
                return i
            ncls = self._classify(rows[j], loose=True)
            if not _is_value_row(ncls, True) or not _choices_fit(header, hcls, rows[j], ncls):
                return i
            values.append(rows[j])
            i = j + 1
        return i

    def _single(self, m: Match) -> None:
        if m.kind == "heading":
            self.section = m.key
        elif m.kind == "field" and m.key:
            if m.value and m.key in MULTILINE and not m.key.startswith(_RECORD_PREFIXES):
                self.pending = m.key  # the value may run on over the next lines
                self.pending_lines = [m.value]
            elif m.value:
                self.set(m.key, m.value)
            else:
                self.pending = m.key
                self.pending_lines = []
        elif m.kind == "option" and m.state is not None and m.key and m.option:
            self.tick(m.key, m.option, m.state, m.value)
        elif m.kind == "options":
            self._picks(m)

    def _picks(self, m: Match, only: str | None = None) -> None:
        """The boxes of an "options" match, with any text stated beside them."""
        stated = {(g, o): text for g, o, text in m.details}
        for group, option, state in m.picks:
            if only is None or group == only:
                self.tick(group, option, state, stated.get((group, option)))

    def _continuation(self, text: str) -> None:
        text = text.strip()
        if self.pending is None:
            if self.section == "reasons" and not _SIGN_OFF.match(text):
                self.pending = "summary"
                self.pending_lines = [text]
            return
        if self.pending == "summary" and _SIGN_OFF.match(text):
            self._close_pending()
            return
        if not self.pending_lines and re.fullmatch(r"\(.*\)", text):
            return  # an instruction under the label: "(Agencies involved and why ...)"
        self.pending_lines.append(text)
        if self.pending not in MULTILINE:
            self._close_pending()

    def _close_pending(self) -> None:
        if self.pending and any(line.strip() for line in self.pending_lines):
            self.set(self.pending, "\n".join(self.pending_lines).strip("\n"))
        self.pending = None
        self.pending_lines = []

    # --- tables -------------------------------------------------------------------------------

    def _table(self, rows: Sequence[Row]) -> None:
        i = 0
        while i < len(rows):
            row = rows[i]
            cls = self._classify(row)
            headings = [m for m in cls if m.kind == "heading"]
            if headings:
                self.section = headings[0].key
                if all(m.kind in ("heading", "empty") for m in cls):
                    i += 1
                    continue
                cls = self._classify(row)
            if self._is_header(cls):
                value_rows: list[Row] = []
                j = i + 1
                while j < len(rows):
                    if rows[j].is_blank:
                        j += 1
                        continue
                    ncls = self._classify(rows[j])
                    if not _is_value_row(ncls, self.section in LIST_SECTIONS) or not _choices_fit(
                        row, cls, rows[j], ncls
                    ):
                        break
                    value_rows.append(rows[j])
                    j += 1
                if value_rows:
                    self._above(row, cls, value_rows)
                    i = j
                    continue
            self._left(row, cls)
            i += 1

    @staticmethod
    def _is_header(cls: Sequence[Match]) -> bool:
        """A row of labels with nothing filled in: the values are in the row(s) under it.

        A header row may also hold a label this book does not know ("Referrer Name | Agency |
        Email | Date" read before any section heading): with two or more known labels, no more
        unknown than known, the unknown ones short and label-like, and the labels not each
        followed by a value (that is a label-left row: "Name | Ann | Agency | Health")."""
        bare = [
            m for m in cls
            if (m.kind == "field" and not m.value) or (m.kind == "option" and m.state is None)
        ]
        others = [m for m in cls if m.kind not in ("empty",) and m not in bare]
        filled = [m for m in cls if m.kind != "empty"]
        if len(filled) == 2:
            label, choice = filled
            if label.kind == "field" and label.key in OPTION_GROUPS and choice.kind == "option" \
                    and choice.key == label.key:
                return False  # "Child's Status | Child Protection": one label and its value
        if bare and all(m.kind == "heading" for m in others):
            return True
        unknown = [m for m in others if m.kind == "value"]
        if len(bare) < 2 or len(unknown) > len(bare) or any(
            m.kind not in ("heading", "value") for m in others
        ):
            return False
        if not all(_label_like(m.value or "") for m in unknown):
            return False
        alternating = all(
            (m in bare) == (k % 2 == 0) for k, m in enumerate(filled)
        ) and len(filled) % 2 == 0
        return not alternating

    def _above(self, header: Row, cls: Sequence[Match], value_rows: Sequence[Row]) -> None:
        """Values (or tick marks) sit under their headings, one record per row in list sections."""
        columns = _column_ranges(header.cells)
        list_section = self.section if self.section in LIST_SECTIONS else None
        texts: dict[int, list[str]] = {}
        for row in value_rows:
            per_row: dict[int, list[str]] = {}
            for cell in row.cells:
                k = _best_column(cell, columns)
                if k is not None:
                    per_row.setdefault(k, []).append(cell.text)
            if list_section:
                record = {}
                for k, parts in per_row.items():
                    m = cls[k]
                    if m.kind == "field" and m.key and m.key.startswith(list_section + "."):
                        value = _clean("\n".join(parts))
                        if value:
                            record[m.key.split(".", 1)[1]] = value
                if record:
                    self.hits += 1
                    self.records[list_section].append(record)
                continue
            for k, parts in per_row.items():
                texts.setdefault(k, []).extend(parts)
        for k, m in enumerate(cls):
            text = "\n".join(texts.get(k, [])).strip()
            if m.kind == "field" and m.key and text:
                self.set(m.key, text)
            elif m.kind == "option" and m.key and m.option and not list_section:
                state, detail = _cell_state(text)
                if state is not None:
                    self.tick(m.key, m.option, state, detail)

    def _left(self, row: Row, cls: Sequence[Match]) -> None:
        """Label then value, left to right: "Name | Ann | Date: | 07/03/2019"."""
        k = 0
        n = len(cls)
        while k < n:
            m = cls[k]
            nxt = cls[k + 1] if k + 1 < n else None
            if m.kind == "field" and m.key:
                if m.value:
                    self.set(m.key, m.value)
                elif nxt is not None and (
                    nxt.kind == "value" or (nxt.kind == "option" and nxt.state is None)
                ):
                    # a value that happens to name a choice: "Child's status | Child Protection"
                    self.set(m.key, row.cells[k + 1].text)
                    k += 1
                elif nxt is not None and nxt.kind == "empty":
                    k += 1
            elif m.kind == "option" and m.key and m.option:
                if m.state is not None:
                    self.tick(m.key, m.option, m.state, m.value)
                elif nxt is not None and nxt.kind in ("value", "empty"):
                    state, detail = _cell_state(row.cells[k + 1].text)
                    if state is not None:
                        self.tick(m.key, m.option, state, detail)
                        k += 1
            elif m.kind == "options":
                self._picks(m)
            elif m.kind == "value" and self.section == "reasons" and m.value:
                self.set("summary", m.value)
            k += 1

    # --- recording ----------------------------------------------------------------------------

    def tick(self, group: str, option: str, state: bool, detail: str | None = None) -> None:
        self.hits += 1
        current = self.ticks[group].get(option, False)
        self.ticks[group][option] = current or state
        detail = _clean(detail or "")
        if detail and state:
            self.details[group].setdefault(option, detail)
        elif detail:
            self.unticked_details.append((group, option))

    def set(self, key: str, value: str) -> None:
        value = _clean(value)
        if not value:
            return
        self.hits += 1
        if key in OPTION_GROUPS:
            self._options_from_text(key, value)
            return
        if key == "summary":
            self.summary_parts.append(value)
            return
        prefix, _, sub = key.partition(".")
        if prefix in LIST_SECTIONS and sub:
            records = self.records[prefix]
            if not records or sub in records[-1]:
                records.append({})
            records[-1][sub] = value
            return
        self.values.setdefault(key, value)

    def _options_from_text(self, group: str, value: str) -> None:
        if marks.has_box(value):
            m = self.book.classify(value, self.section)
            if m.kind == "options":
                self._picks(m, only=group)
                return
            if m.kind == "option" and m.key == group and m.option and m.state is not None:
                self.tick(group, m.option, m.state, m.value)
                return
        for option in self.book.options_in(group, value):
            self.tick(group, option, True)

    # --- result -------------------------------------------------------------------------------

    def referral(self, today: date | None = None) -> Referral:
        """The Referral these rows describe, with a warning for each missing or doubtful field."""
        return build_referral(self, today or date.today())


def _is_value_row(cls: Sequence[Match], in_list: bool = False) -> bool:
    """Could this row hold the values for the heading row above it?

    Values may name a choice ("Serious incident notification request" under "Type of request"),
    but a row of nothing except choices is a new heading row of tick boxes. In a list section
    (agencies, relevant others) a value may even look like a label ("GP" as a job title): only a
    heading, an inline "Label: value" or a whole row of labels ends the list there.
    """
    filled = [m for m in cls if m.kind != "empty"]
    if not filled or any(m.kind == "heading" for m in filled):
        return False
    bare = all(
        (m.kind == "field" and not m.value) or (m.kind in ("option", "options") and m.state is None)
        for m in filled
    )
    if in_list:
        return not bare and not any(m.kind == "field" and m.value for m in filled)
    if any(m.kind == "field" for m in filled):
        return False
    return not bare


def _choices_fit(header: Row, hcls: Sequence[Match], row: Row, cls: Sequence[Match]) -> bool:
    """A choice's name is a value only under a field heading ("Type of request").

    Under an empty heading or another choice it is the next row of a label-left table:
    "Serious Incident Notification Request | (blank)" then "Learning Request | X".
    """
    columns = _column_ranges(header.cells)
    for cell, m in zip(row.cells, cls, strict=True):
        if m.kind not in ("option", "options"):
            continue
        k = _best_column(cell, columns)
        if k is None or hcls[k].kind != "field":
            return False
    return True


def _column_ranges(cells: Sequence[Cell]) -> list[tuple[int, float]]:
    """Each heading cell owns the columns from its start to the next heading's start."""
    starts = [c.x0 for c in cells]
    ranges: list[tuple[int, float]] = []
    for k, start in enumerate(starts):
        end: float = starts[k + 1] if k + 1 < len(starts) else float("inf")
        ranges.append((start, max(end, cells[k].x1 if k + 1 == len(starts) else end)))
    return ranges


def _best_column(cell: Cell, columns: Sequence[tuple[int, float]]) -> int | None:
    if not cell.text.strip() and marks.mark_state(cell.text) is None:
        return None
    best, best_overlap = None, 0.0
    for k, (start, end) in enumerate(columns):
        overlap = min(cell.x1, end) - max(cell.x0, start)
        if overlap > best_overlap:
            best, best_overlap = k, overlap
    if best is None:  # text slightly left of every heading: the nearest one
        distances = [abs(cell.x0 - start) for start, _ in columns]
        best = distances.index(min(distances)) if distances else None
    return best


def _label_like(text: str) -> bool:
    """Short, no digits, no e-mail address, not a tick: could be a column heading."""
    return (
        0 < len(text.split()) <= 5
        and not re.search(r"[\d@]", text)
        and marks.mark_state(text) is None
        and not marks.has_box(text)
    )


def _cell_state(text: str) -> tuple[bool | None, str | None]:
    """A cell beside or under a choice: an empty cell is an unticked box; otherwise its mark
    and any text stated with it (see ``labels.state_and_detail``)."""
    if not text.strip():
        return False, None
    return state_and_detail(text)


def _clean(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)


def _items(text: str | None) -> list[str]:
    if not text:
        return []
    parts = re.split(r"\n|;", text)
    return [p.strip(" \t-•*·,") for p in parts if p.strip(" \t-•*·,")]


def _one_line(text: str | None, sep: str = " ") -> str | None:
    if not text:
        return None
    parts = [p.strip(" ,") for p in text.split("\n") if p.strip(" ,")]
    return sep.join(parts) or None


def _date(ex: Extractor, key: str, label: str, ref: Referral) -> date | None:
    text = ex.values.get(key)
    if not text:
        return None
    if text.strip().lower().rstrip(".") in {"n/a", "not known", "unknown", "tbc", "-", "none"}:
        return None
    found = search_date(text)
    if found is None:
        ref.warn(f"{label} is not a date we can read (use DD/MM/YYYY)")
    return found


def build_referral(ex: Extractor, today: date) -> Referral:
    ref = Referral()
    v = ex.values
    ref.fields_found = ex.hits
    ref.referrer.name = _one_line(v.get("referrer.name"))
    ref.referrer.agency = _one_line(v.get("referrer.agency"), ", ")
    ref.referrer.role = _one_line(v.get("referrer.role"))
    ref.referrer.phone = _one_line(v.get("referrer.phone"))
    raw_email = v.get("referrer.email")
    if raw_email:
        match = _EMAIL.search(raw_email)
        if match:
            ref.referrer.email = match.group().strip(".").lower()
        else:
            ref.warn("referrer's email address is not an e-mail address")
    ref.child.name = _one_line(v.get("child.name"))
    ref.child.address = _one_line(v.get("child.address"), ", ")
    ref.child.gender = _one_line(v.get("child.gender"))
    ref.child.date_of_birth = _date(ex, "child.date_of_birth", "child's date of birth", ref)
    ref.incident_date = _date(ex, "incident_date", "date of death / incident", ref)
    ref.submission_date = _date(ex, "submission_date", "date of the referral", ref)
    ref.aware_date = _date(ex, "aware_date", "date of awareness", ref)
    number, warning = nhs.normalise(v.get("child.nhs_number"))
    ref.child.nhs_number = number
    if warning:
        ref.warn(warning)

    ticked = [t for t in REQUEST_TYPES if ex.ticks["request_type"].get(t)]
    if len(ticked) == 1:
        ref.request_type = ticked[0]
    elif len(ticked) > 1:
        ref.request_type = "serious_incident_notification"
        ref.warn("both request types are ticked: read as a serious incident notification request")
    ref.child_status = [s for s in CHILD_STATUSES if ex.ticks["child_status"].get(s)]
    ref.child_status_details = {
        s: ex.details["child_status"][s] for s in ref.child_status if s in ex.details["child_status"]
    }
    ref.incident_nature = [n for n in INCIDENT_NATURES if ex.ticks["incident_nature"].get(n)]
    if len(ref.incident_nature) > 1:
        ref.warn("nature of the incident: both death and serious harm are ticked")
    for group, option in ex.unticked_details:
        if group == "child_status" and option not in ref.child_status:
            ref.warn(f"child's status: text is stated beside the unticked box '{option}'")
    if "not_known_to_csc" in ref.child_status and len(ref.child_status) > 1:
        ref.warn("child's status says both 'not known to children's social care' and known to a service")

    ref.parents_carers = _items(v.get("parents_carers"))
    ref.siblings = _items(v.get("siblings"))
    ref.gp = _one_line(v.get("gp"), ", ")
    ref.local_authority = _one_line(v.get("local_authority"))
    ref.agencies = [r for r in ex.records["agencies"] if r]
    ref.agencies += [{"details": item} for item in _items(v.get("agencies"))]
    ref.relevant_others = [r for r in ex.records["others"] if r]
    summary = "\n\n".join(p for p in ex.summary_parts if p).strip()
    ref.summary = summary[:_MAX_SUMMARY] or None

    _check_dates(ref, today)
    _missing(ref)
    ref.answers = criteria_answers(ref)
    return ref


def _check_dates(ref: Referral, today: date) -> None:
    dob, incident = ref.child.date_of_birth, ref.incident_date
    if dob and dob > today:
        ref.warn("child's date of birth is in the future")
    if incident and incident > today:
        ref.warn("date of death / incident is in the future")
    if dob and incident and incident < dob:
        ref.warn("date of death / incident is before the child's date of birth")
    if dob and dob.year < today.year - 25:
        ref.warn("child's date of birth is more than 25 years ago")


def _missing(ref: Referral) -> None:
    present = {
        "request_type": ref.request_type,
        "referrer.name": ref.referrer.name,
        "referrer.agency": ref.referrer.agency,
        "referrer.email": ref.referrer.email,
        "child.name": ref.child.name,
        "child.date_of_birth": ref.child.date_of_birth,
        "child.address": ref.child.address,
        "child.nhs_number": ref.child.nhs_number,
        "incident_date": ref.incident_date,
        "child_status": ref.child_status,
        "summary": ref.summary,
    }
    for key, label in REQUIRED:
        if not present[key]:
            ref.warn(f"missing: {label} ({key})")


def extract(rows: Sequence[Row], book: LabelBook | None = None, today: date | None = None) -> Referral:
    """Read a referral from rows produced by any reader."""
    ex = Extractor(book)
    ex.feed(rows)
    return ex.referral(today)
