"""The criteria engine: does an incident need a serious incident notification, and what did the
rapid review decide? Pure domain code, no Slack or SQL.

The questions, answers, rules, grey-area guidance and their sources are data
(config/criteria.toml) so a partnership can reword them without touching code. The engine only
knows how to read that data:

* rules are tried in order and the first that matches decides;
* with some answers missing, every possible completion of the missing answers is evaluated. If
  they all agree (same decision, same other notifications) the answer is given now: a decision
  that is already certain is never held back for a question that cannot change it. Otherwise
  the next question is the first, in file order, whose answer can change the outcome. Routing
  is therefore derived from the rules and cannot drift from them;
* answers that cannot hold together (``[[<flow>.impossible]]``: a looked-after child is under
  18, a care leaver 18 or over) are refused when given and never counted as a completion, so
  a question whose only "other" answer is impossible is not asked;
* every source says whether a seed document supports it; one that no seed supports is cited
  with "[not in the seed guidance: ...]" (``SourceSpec.cite``), so every renderer shows it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config import ConfigFileError, parse_toml, read_text
from scheduler.timescales import Milestone

INCOMPLETE = "incomplete"
NOTIFICATION = "notification"
REVIEW = "review"
FLOWS = (NOTIFICATION, REVIEW)

# The command-line contract (`safeguard-bot criteria --answer KEY=VALUE`): a partnership may
# reword these questions but not rename them.
NOTIFICATION_CONTRACT: dict[str, tuple[str, ...]] = {
    "abuse_or_neglect": ("known", "suspected", "not_suspected", "unsure"),
    "harm": ("died", "serious_harm", "not_serious", "unsure"),
    "location": (
        "in_area",
        "resident_harmed_outside_england",
        "elsewhere_in_england",
        "outside_area_not_resident",
    ),
    "looked_after": ("yes", "no"),
    "care_leaver_under_25": ("yes", "no"),
    # Added for issue 10: s16C concerns a child (under 18), and Tees's "family known to
    # children's social care" rule needs its own question.
    "age": ("under_18", "18_to_24", "25_or_over"),
    "family_known_to_csc": ("yes", "no"),
}
NOTIFICATION_DECISIONS = frozenset({"notify", "not_required", "discuss"})
REVIEW_MILESTONES = frozenset(
    {
        Milestone.DECISION_LOCAL_REVIEW.value,
        Milestone.DECISION_NO_REVIEW.value,
        Milestone.DECISION_NATIONAL_REVIEW.value,
    }
)
AlsoNotify = Literal["secretary_of_state", "ofsted"]
ALSO_NOTIFY_ORDER = ("secretary_of_state", "ofsted")
ALSO_NOTIFY_LABELS = {"secretary_of_state": "the Secretary of State", "ofsted": "Ofsted"}


class CriteriaConfigError(ConfigFileError):
    """The criteria file cannot be used; one line naming the file and the bad key."""


class CriteriaAnswerError(ValueError):
    """An answer key or value the flow does not know; one line saying what is expected."""


# --- the file's shape -------------------------------------------------------------------------

Condition = dict[str, list[str]]
_KEY = r"^[a-z][a-z0-9_]*$"
_VALUE = r"^[a-z0-9][a-z0-9_]*$"  # an answer may start with a digit: age = 18_to_24


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NOT_IN_SEEDS = "not in the seed guidance"


class SourceSpec(_Strict):
    """Where a rule comes from. ``seed`` names the seed document(s) whose text supports it (for
    the reviewer; not shown). A source with no ``seed``, or with an ``unverified`` note saying
    which part no seed supports, is shown with "[not in the seed guidance: ...]" wherever it is
    cited, so an adviser can see at once what rests on the seeds and what does not."""

    document: str = Field(min_length=3)
    section: str = Field(min_length=3)
    seed: str | None = Field(default=None, pattern=r"^00[0-9](, 00[0-9])*$")
    unverified: str | None = Field(default=None, min_length=3)

    @property
    def in_seeds(self) -> bool:
        return self.seed is not None and self.unverified is None

    def cite(self) -> str:
        text = f"{self.document}, {self.section}"
        if self.in_seeds:
            return text
        return f"{text} [{NOT_IN_SEEDS}: {self.unverified or 'unverified'}]"


class OptionSpec(_Strict):
    value: str = Field(pattern=_VALUE)
    label: str = Field(min_length=1, max_length=75)  # Slack button text limit
    reason: str = Field(min_length=3)
    source: str
    help: str | None = None


class QuestionSpec(_Strict):
    key: str = Field(pattern=_KEY)
    text: str = Field(min_length=3)
    help: str = Field(min_length=3)
    source: str
    optional: bool = False
    ask_when: Condition = Field(default_factory=dict)
    # The answer ``safeguard-bot criteria`` (and the mail intake) takes when none is given, for a
    # question that only adds a local consideration (Tees: a family known to children's social
    # care). The conversations still ask it whenever it could change the outcome, and an answer
    # that rests on the assumption says so.
    assume: str | None = None
    option: list[OptionSpec] = Field(min_length=2)


class OutcomeSpec(_Strict):
    key: str = Field(pattern=_KEY)
    title: str = Field(min_length=3)
    summary: str = Field(min_length=3)
    milestone: str | None = None
    # A second milestone the outcome records with the first (review flow): a national-review
    # recommendation still records the local decision the rapid review concludes with.
    also_milestone: str | None = None


class NoteSpec(_Strict):
    text: str = Field(min_length=3)
    source: str


class RuleSpec(_Strict):
    id: str = Field(pattern=_KEY)
    when: Condition = Field(default_factory=dict)
    when_any: list[Condition] = Field(default_factory=list)
    decision: str
    reason: str = Field(min_length=3)
    source: str
    learning_route: bool = False
    note: list[NoteSpec] = Field(default_factory=list)


class AlsoNotifyRuleSpec(_Strict):
    id: str = Field(pattern=_KEY)
    when: Condition = Field(default_factory=dict)
    when_any: list[Condition] = Field(default_factory=list)
    also_notify: list[AlsoNotify] = Field(min_length=1)
    reason: str = Field(min_length=3)
    source: str


class LearningRouteSpec(_Strict):
    text: str = Field(min_length=3)
    source: str
    also_source: str | None = None


class GreyAreaSpec(_Strict):
    key: str = Field(pattern=_KEY)
    title: str = Field(min_length=3)
    when: Condition = Field(default_factory=dict)
    when_any: list[Condition] = Field(default_factory=list)
    text: str = Field(min_length=3)
    source: str
    also_source: str | None = None  # a second document the text rests on


class ImpossibleSpec(_Strict):
    """Answers that cannot all hold together (a looked-after child is under 18): refused when
    given, and never considered when working out what a missing answer could change."""

    id: str = Field(pattern=_KEY)
    when: Condition = Field(min_length=2)
    reason: str = Field(min_length=3)
    source: str


class FlowSpec(_Strict):
    title: str = Field(min_length=3)
    intro: str = Field(min_length=3)
    ask_all: bool = False
    question: list[QuestionSpec] = Field(min_length=1)
    outcome: list[OutcomeSpec] = Field(min_length=1)
    rule: list[RuleSpec] = Field(min_length=1)
    also_notify_rule: list[AlsoNotifyRuleSpec] = Field(default_factory=list)
    learning_route: LearningRouteSpec | None = None
    grey_area: list[GreyAreaSpec] = Field(default_factory=list)
    impossible: list[ImpossibleSpec] = Field(default_factory=list)


class CriteriaFile(_Strict):
    version: Literal[1]
    sources: dict[str, SourceSpec]
    notification: FlowSpec
    review: FlowSpec


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    text: str
    source: str

    def as_json(self) -> dict[str, str]:
        return {"text": self.text, "source": self.source}


@dataclass(frozen=True)
class GreyArea:
    key: str
    title: str
    text: str
    source: str

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "text": self.text, "source": self.source}


@dataclass(frozen=True)
class Evaluation:
    """Where a conversation stands: the decision (or ``incomplete``) and why."""

    flow: str
    decision: str
    title: str
    summary: str
    also_notify: tuple[str, ...]
    reasons: tuple[Reason, ...]
    next_question: str | None
    grey_areas: tuple[GreyArea, ...] = ()
    milestone: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    also_milestone: str | None = None

    @property
    def milestones(self) -> tuple[str, ...]:
        """Every milestone recording this decision records (review flow), in order."""
        return tuple(m for m in (self.milestone, self.also_milestone) if m)

    @property
    def decided(self) -> bool:
        """The Panel-notification decision is known (no remaining answer can change it)."""
        return self.decision != INCOMPLETE

    @property
    def complete(self) -> bool:
        """Nothing left to ask: the decision and the other notifications are both settled."""
        return self.decided and self.next_question is None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "flow": self.flow,
            "decision": self.decision,
            "title": self.title,
            "summary": self.summary,
            "also_notify": list(self.also_notify),
            "reasons": [r.as_json() for r in self.reasons],
            "next_question": self.next_question,
            "grey_areas": [g.as_json() for g in self.grey_areas],
            "answers": dict(self.answers),
        }
        if self.flow == REVIEW:
            data["milestone"] = self.milestone
            data["also_milestone"] = self.also_milestone
        return data


# --- the engine -------------------------------------------------------------------------------


def _matches(condition: Condition, answers: Mapping[str, str]) -> bool:
    return all(answers.get(key) in values for key, values in condition.items())


def _rule_matches(when: Condition, when_any: list[Condition], answers: Mapping[str, str]) -> bool:
    return _matches(when, answers) and (not when_any or any(_matches(c, answers) for c in when_any))


@dataclass(frozen=True)
class Question:
    """One question as an adapter shows it."""

    key: str
    text: str
    help: str
    source: str
    optional: bool
    options: tuple[tuple[str, str], ...]  # (value, label)

    def label_for(self, value: str) -> str:
        return dict(self.options).get(value, value)


class Flow:
    """One question flow with its rules; evaluates answers (all, some or none)."""

    def __init__(self, key: str, spec: FlowSpec, sources: Mapping[str, SourceSpec]) -> None:
        self.key = key
        self.spec = spec
        self._sources = sources
        self._questions = {q.key: q for q in spec.question}
        self._outcomes = {o.key: o for o in spec.outcome}
        # ``decisive``: every question a rule may read. ``required``: those the one-shot
        # ``criteria`` command demands (decisive, with no ``assume``d answer).
        self.decisive = tuple(q.key for q in spec.question if not q.optional)
        self.required = tuple(q.key for q in spec.question if not q.optional and q.assume is None)
        self._assumed = {q.key: q.assume for q in spec.question if q.assume is not None}
        # Outcomes of a partial answer set, keyed by its values in ``decisive`` order (None for
        # a missing answer). Each entry is the union of its children's, so evaluating every
        # partial answer set costs one pass over the tree of answers, not one per call.
        self._memo: dict[tuple[str | None, ...], frozenset[tuple[str, frozenset[str]]]] = {}

    # Introspection --------------------------------------------------------------------------

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def intro(self) -> str:
        return self.spec.intro

    def cite(self, source_id: str) -> str:
        return self._sources[source_id].cite()

    def question(self, key: str) -> Question:
        spec = self._questions[key]
        return Question(
            key=spec.key,
            text=spec.text,
            help=spec.help,
            source=self.cite(spec.source),
            optional=spec.optional,
            options=tuple((o.value, o.label) for o in spec.option),
        )

    def question_keys(self) -> list[str]:
        return [q.key for q in self.spec.question]

    def option_help(self, key: str, value: str) -> str | None:
        for option in self._questions[key].option:
            if option.value == value:
                return option.help
        return None

    def check_answers(self, answers: Mapping[str, str]) -> dict[str, str]:
        """The answers, or CriteriaAnswerError for an unknown key or value (one line)."""
        checked: dict[str, str] = {}
        for key, value in answers.items():
            spec = self._questions.get(key)
            if spec is None:
                known = ", ".join(self._questions)
                raise CriteriaAnswerError(f"unknown question {key!r}; expected one of: {known}")
            values = [o.value for o in spec.option]
            if value not in values:
                raise CriteriaAnswerError(
                    f"unknown answer {value!r} for {key}; expected one of: {', '.join(values)}"
                )
            checked[key] = value
        for impossible in self.spec.impossible:
            if _matches(impossible.when, checked):
                given = " and ".join(f"{k}={checked[k]}" for k in impossible.when)
                raise CriteriaAnswerError(f"{given} cannot both hold: {impossible.reason}")
        if self.spec.impossible and not self._outcomes_for(checked):
            # each pair is possible, but no answer to the missing questions fits them all
            given = ", ".join(f"{k}={v}" for k, v in checked.items() if k in self.decisive)
            why = "; ".join(
                i.reason for i in self.spec.impossible if any(k in checked for k in i.when)
            )
            raise CriteriaAnswerError(f"{given} cannot all hold: {why}")
        return checked

    def _possible(self, answers: Mapping[str, str]) -> bool:
        return not any(_matches(i.when, answers) for i in self.spec.impossible)

    # Evaluation -----------------------------------------------------------------------------

    def _decide(self, answers: Mapping[str, str]) -> RuleSpec | None:
        for rule in self.spec.rule:
            if _rule_matches(rule.when, rule.when_any, answers):
                return rule
        return None

    def _also(self, answers: Mapping[str, str]) -> frozenset[str]:
        found: set[str] = set()
        for rule in self.spec.also_notify_rule:
            if _rule_matches(rule.when, rule.when_any, answers):
                found.update(rule.also_notify)
        return frozenset(found)

    def _completions(self, answers: Mapping[str, str]) -> Iterable[dict[str, str]]:
        """Every possible completion of ``answers`` (impossible combinations left out)."""
        missing = [k for k in self.decisive if k not in answers]
        choices = [[o.value for o in self._questions[k].option] for k in missing]
        for combo in itertools.product(*choices):
            completed = dict(answers)
            completed.update(zip(missing, combo, strict=True))
            if self._possible(completed):
                yield completed

    def _outcomes_for(self, answers: Mapping[str, str]) -> frozenset[tuple[str, frozenset[str]]]:
        """The (decision, other notifications) pairs some possible completion reaches; empty
        when the answers cannot all hold."""
        return self._outcomes_of(tuple(answers.get(k) for k in self.decisive))

    def _outcomes_of(self, values: tuple[str | None, ...]) -> frozenset[tuple[str, frozenset[str]]]:
        cached = self._memo.get(values)
        if cached is not None:
            return cached
        known = {k: v for k, v in zip(self.decisive, values, strict=True) if v is not None}
        if not self._possible(known):
            result: frozenset[tuple[str, frozenset[str]]] = frozenset()
        elif len(known) == len(self.decisive):
            rule = self._decide(known)
            assert rule is not None  # load-time validation guarantees a rule decides
            result = frozenset({(rule.decision, self._also(known))})
        else:
            i = values.index(None)
            found: set[tuple[str, frozenset[str]]] = set()
            for option in self._questions[self.decisive[i]].option:
                found |= self._outcomes_of((*values[:i], option.value, *values[i + 1 :]))
            result = frozenset(found)
        self._memo[values] = result
        return result

    def _matters(self, key: str, answers: Mapping[str, str]) -> bool:
        """Some possible answer to ``key`` leads to other outcomes than another one does."""
        seen: list[frozenset[tuple[str, frozenset[str]]]] = []
        for option in self._questions[key].option:
            outcomes = self._outcomes_for({**answers, key: option.value})
            if not outcomes:
                continue  # this answer cannot hold with the others (a looked-after adult)
            if seen and outcomes != seen[0]:
                return True
            seen.append(outcomes)
        return False

    def _filled(self, answers: Mapping[str, str]) -> dict[str, str]:
        """The answers with the ``assume``d answer for each such question not answered."""
        return {**{k: v for k, v in self._assumed.items() if k not in answers}, **answers}

    def _next_of(self, answers: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
        unanswered = [k for k in keys if k not in answers]
        if not unanswered:
            return None
        if self.spec.ask_all:
            return unanswered[0]
        if len(self._outcomes_for(answers)) == 1:
            return None
        for key in unanswered:
            if self._matters(key, answers):
                return key
        return unanswered[0]

    def _required_next(self, answers: Mapping[str, str]) -> str | None:
        """What ``criteria`` still needs: assumed answers count as given."""
        return self._next_of(self._filled(answers), self.required)

    def next_question(self, answers: Mapping[str, str], *, include_optional: bool = False) -> str | None:
        """The next question to ask. ``include_optional`` (chat) also asks optional questions,
        in file order, when their ``ask_when`` holds, and asks a question with an assumed
        answer whenever that answer could change the outcome."""
        if not include_optional:
            return self._required_next(answers)
        required = self._next_of(answers, self.decisive)
        for spec in self.spec.question:
            if spec.key in answers:
                continue
            if spec.optional:
                if spec.ask_when and _matches(spec.ask_when, answers):
                    return spec.key
                continue
            if spec.key == required:
                return spec.key
        return None

    def evaluate(self, answers: Mapping[str, str]) -> Evaluation:
        """The decision so far. Raises CriteriaAnswerError for unknown keys or values.

        A question with an ``assume``d answer that was not answered is taken as that answer;
        where the other answer would change the outcome, a reason says so."""
        given = self.check_answers(answers)
        answers = self._filled(given)
        reasons: list[Reason] = []
        for spec in self.spec.question:
            if spec.optional or spec.key not in answers:
                continue
            if spec.key not in given:
                if self._matters(spec.key, {k: v for k, v in answers.items() if k != spec.key}):
                    label = {o.value: o.label for o in spec.option}[answers[spec.key]]
                    reasons.append(Reason(
                        f"Not answered, taken as \"{label}\": {spec.text} {spec.help}",
                        self.cite(spec.source),
                    ))
                continue
            option = next(o for o in spec.option if o.value == answers[spec.key])
            reasons.append(Reason(option.reason, self.cite(option.source)))

        grey = tuple(
            GreyArea(g.key, g.title, g.text, self._grey_source(g))
            for g in self.spec.grey_area
            if _rule_matches(g.when, g.when_any, answers)
        )
        outcomes = self._outcomes_for(answers)
        also_sets = [also for _, also in outcomes]
        certain_also = frozenset.intersection(*also_sets) if also_sets else frozenset()
        also_notify = tuple(k for k in ALSO_NOTIFY_ORDER if k in certain_also)
        for rule in self.spec.also_notify_rule:
            if _rule_matches(rule.when, rule.when_any, answers):
                reasons.append(Reason(rule.reason, self.cite(rule.source)))

        # The decision is given as soon as no remaining answer could change it. A question that
        # only settles ``also_notify`` (the looked-after or care-leaver answer) is still asked:
        # it comes back as ``next_question`` beside the decision.
        next_key = self._required_next(answers)
        decisions = {decision for decision, _ in outcomes}
        if len(decisions) != 1:
            return Evaluation(
                flow=self.key,
                decision=INCOMPLETE,
                title="More information needed",
                summary=self.question(next_key).text if next_key else "",
                also_notify=also_notify,
                reasons=tuple(reasons),
                next_question=next_key,
                grey_areas=grey,
                answers=given,
            )

        decision = next(iter(decisions))
        rule = self._certain_rule(answers, decision)
        reasons.append(Reason(rule.reason, self.cite(rule.source)))
        reasons.extend(Reason(n.text, self.cite(n.source)) for n in rule.note)
        if rule.learning_route and self.spec.learning_route is not None:
            route = self.spec.learning_route
            reasons.append(Reason(route.text, self.cite(route.source)))
            if route.also_source:
                reasons.append(
                    Reason("Learning request route (near-miss referral).", self.cite(route.also_source))
                )
        outcome = self._outcomes[decision]
        return Evaluation(
            flow=self.key,
            decision=decision,
            title=outcome.title,
            summary=outcome.summary,
            also_notify=also_notify,
            reasons=tuple(reasons),
            next_question=next_key,
            grey_areas=grey,
            milestone=outcome.milestone,
            answers=given,
            also_milestone=outcome.also_milestone,
        )

    def _grey_source(self, grey: GreyAreaSpec) -> str:
        cited = self.cite(grey.source)
        return f"{cited}; {self.cite(grey.also_source)}" if grey.also_source else cited

    def _certain_rule(self, answers: Mapping[str, str], decision: str) -> RuleSpec:
        """The rule to explain a decision with: the first one the known answers alone satisfy."""
        for rule in self.spec.rule:
            # With answers missing, a condition on a missing key never matches: a rule that
            # matches here is satisfied by what is known.
            if rule.decision == decision and _rule_matches(rule.when, rule.when_any, answers):
                return rule
        completed = next(iter(self._completions(answers)))
        rule = self._decide(completed)
        assert rule is not None
        return rule


class CriteriaTree:
    """Both flows, validated, with their sources."""

    def __init__(self, spec: CriteriaFile, origin: str) -> None:
        self.spec = spec
        self.origin = origin
        self.flows = {
            NOTIFICATION: Flow(NOTIFICATION, spec.notification, spec.sources),
            REVIEW: Flow(REVIEW, spec.review, spec.sources),
        }

    def flow(self, key: str = NOTIFICATION) -> Flow:
        try:
            return self.flows[key]
        except KeyError:
            raise CriteriaAnswerError(
                f"unknown flow {key!r}; expected one of: {', '.join(self.flows)}"
            ) from None


# --- loading and validation -------------------------------------------------------------------


def _describe_loc(data: Any, loc: Iterable[Any]) -> str:
    """('notification','question',1,'option',0,'label') -> notification.question[harm].option[died].label"""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if part < len(node) else None
            name = None
            if isinstance(item, dict):
                name = item.get("key") or item.get("value") or item.get("id")
            label = f"[{name}]" if name else f"[#{part + 1}]"
            parts[-1:] = [(parts[-1] if parts else "") + label]
            node = item
            continue
        parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


def _check_condition(
    where: str, condition: Condition, questions: Mapping[str, QuestionSpec], allow_optional: bool
) -> None:
    for key, values in condition.items():
        question = questions.get(key)
        if question is None:
            raise CriteriaConfigError(f"{where}: unknown question {key!r}")
        if question.optional and not allow_optional:
            raise CriteriaConfigError(
                f"{where}: optional question {key!r} cannot decide an outcome"
            )
        known = {o.value for o in question.option}
        for value in values:
            if value not in known:
                raise CriteriaConfigError(f"{where}: {key} has no answer {value!r}")


def _validate_flow(name: str, flow: FlowSpec, sources: Mapping[str, SourceSpec]) -> None:
    def source(where: str, source_id: str | None) -> None:
        if source_id is not None and source_id not in sources:
            raise CriteriaConfigError(f"{where}.source: {source_id!r} is not defined in [sources]")

    questions: dict[str, QuestionSpec] = {}
    for q in flow.question:
        where = f"{name}.question[{q.key}]"
        if q.key in questions:
            raise CriteriaConfigError(f"{where}: duplicate question key")
        questions[q.key] = q
        source(where, q.source)
        values: set[str] = set()
        for o in q.option:
            if o.value in values:
                raise CriteriaConfigError(f"{where}.option[{o.value}]: duplicate answer value")
            values.add(o.value)
            source(f"{where}.option[{o.value}]", o.source)
        if q.ask_when and not q.optional:
            raise CriteriaConfigError(f"{where}.ask_when: only optional questions may use ask_when")
        if q.assume is not None and (q.optional or q.assume not in values):
            raise CriteriaConfigError(
                f"{where}.assume: must be one of its answers, on a question that is not optional"
            )
    for q in flow.question:
        _check_condition(f"{name}.question[{q.key}].ask_when", q.ask_when, questions, True)

    outcomes = {o.key for o in flow.outcome}
    if len(outcomes) != len(flow.outcome):
        raise CriteriaConfigError(f"{name}.outcome: duplicate outcome key")
    for o in flow.outcome:
        if name == REVIEW and o.milestone not in REVIEW_MILESTONES:
            raise CriteriaConfigError(
                f"{name}.outcome[{o.key}].milestone: expected one of {sorted(REVIEW_MILESTONES)}"
            )
        if name == REVIEW and o.also_milestone is not None and (
            o.also_milestone not in REVIEW_MILESTONES or o.also_milestone == o.milestone
        ):
            raise CriteriaConfigError(
                f"{name}.outcome[{o.key}].also_milestone: expected another of "
                f"{sorted(REVIEW_MILESTONES)}"
            )
        if name == NOTIFICATION and (o.milestone is not None or o.also_milestone is not None):
            raise CriteriaConfigError(f"{name}.outcome[{o.key}].milestone: not used here")
    if name == NOTIFICATION and outcomes != NOTIFICATION_DECISIONS:
        raise CriteriaConfigError(
            f"{name}.outcome: expected exactly {sorted(NOTIFICATION_DECISIONS)}, got {sorted(outcomes)}"
        )

    rule_ids: set[str] = set()
    for rule in [*flow.rule, *flow.also_notify_rule]:
        where = f"{name}.rule[{rule.id}]"
        if rule.id in rule_ids:
            raise CriteriaConfigError(f"{where}: duplicate rule id")
        rule_ids.add(rule.id)
        source(where, rule.source)
        _check_condition(f"{where}.when", rule.when, questions, False)
        for condition in rule.when_any:
            _check_condition(f"{where}.when_any", condition, questions, False)
        if isinstance(rule, RuleSpec):
            if rule.decision not in outcomes:
                raise CriteriaConfigError(
                    f"{where}.decision: {rule.decision!r} is not an outcome of {name}"
                )
            for note in rule.note:
                source(f"{where}.note", note.source)
    for grey in flow.grey_area:
        where = f"{name}.grey_area[{grey.key}]"
        source(where, grey.source)
        source(f"{where}.also", grey.also_source)
        _check_condition(f"{where}.when", grey.when, questions, True)
        for condition in grey.when_any:
            _check_condition(f"{where}.when_any", condition, questions, True)
    for impossible in flow.impossible:
        where = f"{name}.impossible[{impossible.id}]"
        if impossible.id in rule_ids:
            raise CriteriaConfigError(f"{where}: duplicate rule id")
        rule_ids.add(impossible.id)
        source(where, impossible.source)
        _check_condition(f"{where}.when", impossible.when, questions, False)
    if flow.learning_route is not None:
        source(f"{name}.learning_route", flow.learning_route.source)
        source(f"{name}.learning_route.also", flow.learning_route.also_source)

    if name == NOTIFICATION:
        for key, expected in NOTIFICATION_CONTRACT.items():
            question = questions.get(key)
            if question is None or question.optional:
                raise CriteriaConfigError(f"{name}.question[{key}]: required question is missing")
            values_found = tuple(o.value for o in question.option)
            if sorted(values_found) != sorted(expected):
                raise CriteriaConfigError(
                    f"{name}.question[{key}].option: answers must be {', '.join(expected)}"
                )

    # Every complete set of answers must reach a decision.
    spec_flow = Flow(name, flow, sources)
    for completed in spec_flow._completions({}):
        if spec_flow._decide(completed) is None:
            shown = ", ".join(f"{k}={v}" for k, v in completed.items())
            raise CriteriaConfigError(f"{name}.rule: no rule decides for {shown}")


def parse_criteria(text: str, origin: str = "criteria.toml") -> CriteriaTree:
    """Validate TOML text into a CriteriaTree, or CriteriaConfigError with one clear line."""
    try:
        data = parse_toml(text, origin)
    except ConfigFileError as exc:
        raise CriteriaConfigError(str(exc)) from None
    try:
        spec = CriteriaFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _describe_loc(data, first["loc"])
        raise CriteriaConfigError(f"{origin}: {where}: {first['msg']}") from None
    try:
        for name in FLOWS:
            _validate_flow(name, getattr(spec, name), spec.sources)
    except CriteriaConfigError as exc:
        raise CriteriaConfigError(f"{origin}: {exc}") from None
    return CriteriaTree(spec, origin)


def load_criteria(path: Path | None = None) -> CriteriaTree:
    """The embedded config/criteria.toml, or a partnership's own copy."""
    try:
        text, origin = read_text("criteria.toml", path)
    except ConfigFileError as exc:
        raise CriteriaConfigError(str(exc)) from None
    return parse_criteria(text, origin)


def parse_answer_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a dict; CriteriaAnswerError for a malformed or repeated pair."""
    answers: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise CriteriaAnswerError(f"--answer {pair!r}: expected KEY=VALUE")
        if key in answers and answers[key] != value:
            raise CriteriaAnswerError(f"--answer {key} given twice ({answers[key]!r}, {value!r})")
        answers[key] = value
    return answers


def also_notify_text(keys: Iterable[str]) -> str:
    """``("secretary_of_state", "ofsted")`` -> "the Secretary of State and Ofsted"."""
    labels = [ALSO_NOTIFY_LABELS.get(k, k) for k in keys]
    return " and ".join(labels)
