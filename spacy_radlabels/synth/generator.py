"""Synthetic reports and short items: plan the labels' states, render the text, derive the gold.

The gold is computed from the plan, never parsed back from the text: every label stated in
a sentence gets that sentence's state, a positive (uncertain) child makes its ancestors at
least positive (uncertain), a normal sentence that `negates` a label ("Heart size is
normal.") makes it negative, and an unmentioned label gets the schema's not-mentioned state.
A label of group "summary" (CheXpert's No Finding) is never stated: it is positive when no
label of group "finding" is positive or uncertain and no rendered sentence is marked
`abnormal` (an abnormality no label covers), and its variants word a normal impression.

A share of the items (`short_ratio`) is short text instead of a whole report: an
impression-only report, one sentence, a fragment ("No bleed.", "Stable.", "?SAH.") or text
that names no label (one sentence or a short report). A short item's summary labels are
positive when its text reports on the study and finds nothing, as CheXpert's No Finding is:
it states a label ("No pneumothorax."), a structure normal ("The lungs are clear.") or the
study normal ("NAD."); a question ("?pneumonia.") or text that reports on no finding
("Stable.", "Patient rotated.") leaves them absent.

A share of the items (`carrier_ratio`) is one finding in an unfamiliar carrier: the mention
among neutral filler words drawn at random, before and after it. With no cue it is positive;
a negative or uncertain item wraps the mention in a template pattern of that state (its cue)
and puts the filler outside it. The frame words then say nothing of the state, only the cue
does (DESIGN.md: a mentioned finding is positive unless a cue scopes over it).
"""

import random
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from ..schema import Schema
from . import grammar
from .templates import (
    ASSERTED_STATES,
    SECTIONS,
    SLOT_RE,
    Family,
    NormalSentence,
    ShortText,
    Templates,
)

RANK = {"absent": 0, "negative": 0, "uncertain": 1, "positive": 2}
# Per-report probabilities of the report's shape and of each kind of main assertion.
P_PRIOR = 0.35
P_DIFFERENTIAL = 0.12
P_COMBO = 0.15
P_PAIR = 0.05
P_COORD = 0.6
P_SHARPEN = 0.25
P_RETRACT = 0.05
P_RESTATE_COMBO = 0.4
P_SCOPE = 0.3
P_QUESTION = 0.5
P_HELDOUT_VARIANT = 0.5
# Share of two-label negative groups rendered by a negative pair family ("No X to suggest
# Y"), when the templates have one.
P_NEGATIVE_PAIR = 0.3
# Share of reports whose normal sentences may include ones marked `abnormal`, when the
# templates have some (else every report with few findings would have one).
P_ABNORMAL = 0.45
MAIN_UNITS = (0, 1, 2, 3, 4)
MAIN_WEIGHTS = (1, 3, 4, 3, 2)
FILLER_WEIGHTS = (2, 3, 3, 2, 1)
SCOPE_JOINS = ("; ", ", but ", ". However, ", ", although ")
# How numbered lists are written; CheXpert-style impressions glue the number to the item
# ("1.mild edema 2.no effusion").
NUMBER_FORMATS = ("{i}. {s}", "{i}. {s}", "{i}.{s}", "{i}) {s}", "{i}.  {s}")
NUMBER_JOINERS = ("\n", "\n", " ", "  ")
SUMMARY_GROUP = "summary"
FINDING_GROUP = "finding"
# Share of normal reports whose impression words the summary label (else a normal sentence).
P_SUMMARY_IMPRESSION = 0.6
# Short items: their shapes and shares. "impression": a few clauses with no other section;
# "sentence": one sentence stating one to four labels; "fragment": a template's fragment or a
# bare clinical question; "label_free": one sentence that names no label;
# "label_free_report": a short report that names no label.
REPORT = "report"
CARRIER = "carrier"
SHORT_SHAPES = ("impression", "sentence", "fragment", "label_free", "label_free_report")
SHORT_WEIGHTS = (3, 3, 2, 1, 1)
# Main units and negative fillers of an impression-only report (0 to 4 each).
SHORT_MAIN_WEIGHTS = (1, 4, 2, 1, 0)
SHORT_FILLER_WEIGHTS = (4, 3, 1, 0, 0)
# Share of one-sentence items that deny a coordinated list ("No bleed, mass or infarct.").
P_SHORT_COORD = 0.15
# Share of fragments that are a bare clinical question ("?SAH."), which asserts nothing.
P_FRAGMENT_QUESTION = 0.3
# Share of label-free sentences taken from the templates' `label_free` list (else from the
# normal sentences, normal impressions and symptoms).
P_LABEL_FREE_LIST = 0.5
P_SHORT_HEADER = 0.3
P_SHORT_UPPER = 0.08
P_SHORT_NUMBERED = 0.35
# Carrier items: neutral filler words that state nothing (no cue, no time, no normality); the
# words of any label's variant and cue words (see `cue_words`) are dropped at load time.
NEUTRAL_WORDS = (
    "seen", "noted", "identified", "shown", "present", "visible", "visualised", "depicted",
    "observed", "appears", "again", "also", "here", "there", "with", "and", "the", "a", "of",
    "on", "at", "in", "this", "these", "study", "scan", "image", "images", "slice", "slices",
    "series", "region", "area", "focus", "appearance", "appearances", "change", "changes",
    "involving", "extending", "measuring", "along", "adjacent", "within", "overall", "today",
    "current", "examination", "CT", "axial", "coronal", "view", "views", "which", "where",
)  # fmt: skip
# Words that say a state (negation, uncertainty, normality, time) whatever the templates
# hold: a positive pattern may use one ("No change in the {X}."), so the templates' own
# negative and uncertain words are not enough to keep them out of the filler.
STATE_WORDS = (
    "no", "not", "nor", "neither", "without", "never", "none", "absent", "negative", "free",
    "excluded", "exclude", "resolved", "cannot", "normal", "unremarkable", "clear", "possible",
    "possibly", "probable", "probably", "likely", "may", "might", "could", "suspected",
    "suspicious", "query", "questionable", "equivocal", "versus", "or", "new", "old",
    "chronic", "acute", "previous", "prior", "previously", "history", "stable", "unchanged",
)  # fmt: skip
# Filler words before and after a carrier item's mention (or cue span), 0 to 3 each.
CARRIER_FILLER_WEIGHTS = (2, 3, 2, 1)
# Share of carrier filler slots that use the label's site words ("in the left frontal lobe").
P_CARRIER_SITE = 0.3


class Quiet(NamedTuple):
    """A sentence that names no label: whether it calls the study normal, or abnormal, and
    the labels it states negative ("Heart size is normal.")."""

    text: str
    normal: bool
    abnormal: bool
    negates: Sequence[str] = ()


@dataclass
class Unit:
    """One assertion to render: its kind, labels, state and the sections that state it."""

    kind: str
    labels: Tuple[str, ...]
    state: str
    sections: Tuple[str, ...] = ("findings",)
    # The findings hedge ("possible X"); the impression, which decides, states the state.
    hedged_findings: bool = False


@dataclass
class Style:
    """The surface form of one report."""

    upper: bool
    lower: bool
    number_format: str
    number_joiner: str
    line_breaks: int
    typo: bool
    numbered_findings: bool
    numbered_impression: bool
    findings_joiner: str
    section_joiner: str
    header_joiner: str
    title: bool
    findings_header: bool


class ReportGenerator:
    """Render synthetic reports with exact gold from a schema and templates.

    schema (Schema): The labels, hierarchy and variants.
    templates (Templates): The carrier families, sites and report furniture.
    heldout (bool): Render with held-out families and variants (the test set) instead of
        the seen ones (train and dev).
    short_ratio (float): Share of items that are short text (see SHORT_SHAPES), in [0, 1].
        At 0 the generator draws exactly the whole reports it drew before short items.
    """

    def __init__(
        self,
        schema: Schema,
        templates: Templates,
        heldout: bool = False,
        short_ratio: float = 0.0,
        carrier_ratio: float = 0.0,
    ) -> None:
        if not 0.0 <= short_ratio <= 1.0:
            raise ValueError(f"short ratio must be in [0, 1], got {short_ratio}.")
        if not 0.0 <= carrier_ratio <= 1.0:
            raise ValueError(f"carrier ratio must be in [0, 1], got {carrier_ratio}.")
        self.schema = schema
        self.templates = templates
        self.heldout = heldout
        self.short_ratio = short_ratio
        self.carrier_ratio = carrier_ratio
        self.summaries = [lab for lab in schema.labels if schema.group(lab) == SUMMARY_GROUP]
        # The labels a report states; summary labels follow from them.
        self.labels = [lab for lab in schema.labels if lab not in self.summaries]
        self.families = [f for f in templates.families if heldout or not f.heldout]
        held = templates.heldout_variants
        self.seen_variants = {
            lab: [v for v in schema.variants(lab) if v not in held.get(lab, [])]
            for lab in schema.labels
        }
        self.heldout_variants = {lab: held.get(lab, []) for lab in schema.labels}
        self.pairs = [(lab, state) for lab in self.labels for state in ASSERTED_STATES]
        self.combos = [
            (f, x) for f, xs in templates.combos.items() for x in xs if not self._related(f, x)
        ]
        self.sites = {lab: templates.site_of(lab) for lab in self.labels}
        share = templates.differential_share
        self.p_differential = P_DIFFERENTIAL if share is None else share
        self.p_hedged_again = templates.hedged_again_share
        self.negative_pairs = any(f.kind == "pair" and f.state == "negative" for f in self.families)
        self.fragments = _split_heldout(templates.fragments, heldout)
        self.label_free = [
            Quiet(s.text, s.normal, False) for s in _split_heldout(templates.label_free, heldout)
        ]
        # The report furniture that names no label either.
        self.furniture = [
            Quiet(s.text, not s.abnormal, s.abnormal, s.negates)
            for s in templates.normal_findings + templates.normal_impression
        ] + [Quiet(text, False, False) for text in templates.symptoms]
        self.shapes: Dict[str, Callable[[random.Random], Tuple[str, Dict[str, str]]]] = {
            "impression": self._impression_only,
            "sentence": self._sentence,
            "fragment": self._fragment,
            "label_free": self._label_free,
            "label_free_report": self._label_free_report,
        }
        self.cue_words = cue_words(templates)
        variant_words = {
            w for lab in schema.labels for v in schema.variants(lab) for w in _words(v)
        }
        self.neutral_words = [
            w for w in NEUTRAL_WORDS if w.lower() not in self.cue_words | variant_words
        ]

    def generate(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        """Render one item: a whole report, or short text at the generator's short ratio.

        rng (random.Random): The random source (the only one used).
        RETURNS (Tuple[str, Dict[str, str]]): The text and the gold state of every label.
        """
        text, gold, _ = self.generate_item(rng)
        return text, gold

    def generate_item(self, rng: random.Random) -> Tuple[str, Dict[str, str], str]:
        """Render one item and say its shape.

        rng (random.Random): The random source (the only one used).
        RETURNS (Tuple[str, Dict[str, str], str]): The text, the gold state of every label
            and the shape: "report", "carrier" or one of SHORT_SHAPES.
        """
        # No number is drawn at ratio 0, so corpora without carrier items stay as they were.
        if self.carrier_ratio and rng.random() < self.carrier_ratio:
            text, gold = self._carrier(rng)
            return text, gold, CARRIER
        # No number is drawn at ratio 0, so whole-report corpora stay as they were.
        if self.short_ratio and rng.random() < self.short_ratio:
            shape = rng.choices(SHORT_SHAPES, SHORT_WEIGHTS)[0]
            text, gold = self.shapes[shape](rng)
            return (text.upper() if rng.random() < P_SHORT_UPPER else text), gold, shape
        has_prior = rng.random() < P_PRIOR
        stated, units = self._plan(rng)
        gold = self._gold(stated)
        text, abnormal = self._render(rng, units, gold, has_prior)
        if abnormal:
            self._not_normal(gold)
        return text, gold, REPORT

    # ---- planning ----

    def _related(self, a: str, b: str) -> bool:
        return a == b or a in self.schema.ancestors(b) or b in self.schema.ancestors(a)

    def _fits(self, stated: Dict[str, str], label: str, state: str) -> bool:
        # A child's state may never exceed a stated ancestor's, or the text would contradict
        # the hierarchy ("possible haemorrhage" beside "there is a subdural haematoma").
        if label in stated:
            return False
        for ancestor in self.schema.ancestors(label):
            if ancestor in stated and RANK[stated[ancestor]] < RANK[state]:
                return False
        for descendant in self.schema.descendants(label):
            if descendant in stated and RANK[stated[descendant]] > RANK[state]:
                return False
        return True

    def _try_add(self, stated: Dict[str, str], assertions: Sequence[Tuple[str, str]]) -> bool:
        trial = dict(stated)
        for label, state in assertions:
            if not self._fits(trial, label, state):
                return False
            trial[label] = state
        stated.update(trial)
        return True

    def _main_unit(self, rng: random.Random) -> Unit:
        roll = rng.random()
        if roll < self.p_differential:
            a, b = rng.sample(self.labels, 2)
            if not self._related(a, b):
                return Unit("differential", (a, b), "uncertain")
        elif roll < self.p_differential + P_COMBO and self.combos:
            finding, impression = rng.choice(self.combos)
            return Unit("combo", (finding, impression), rng.choice(("positive", "uncertain")))
        elif roll < self.p_differential + P_COMBO + P_PAIR:
            a, b = rng.sample(self.labels, 2)
            if not self._related(a, b):
                return Unit("pair", (a, b), "positive")
        label, state = rng.choice(self.pairs)
        return Unit("single", (label,), state)

    def _plan(
        self,
        rng: random.Random,
        main_weights: Sequence[int] = MAIN_WEIGHTS,
        filler_weights: Sequence[int] = FILLER_WEIGHTS,
    ) -> Tuple[Dict[str, str], List[Unit]]:
        stated: Dict[str, str] = {}
        units: List[Unit] = []
        negatives: List[str] = []
        for _ in range(rng.choices(MAIN_UNITS, main_weights)[0]):
            unit = self._main_unit(rng)
            # A combo's finding is always present; its impression takes the unit's state.
            states = ("positive", unit.state) if unit.kind == "combo" else (unit.state,) * 2
            if not self._try_add(stated, list(zip(unit.labels, states))):
                continue
            if unit.kind == "single" and unit.state == "negative":
                negatives.append(unit.labels[0])
            else:
                units.extend(self._place(rng, unit))
        n_fillers = rng.choices(MAIN_UNITS, filler_weights)[0]
        for label in rng.sample(self.labels, n_fillers):
            if self._try_add(stated, [(label, "negative")]):
                negatives.append(label)
        rng.shuffle(negatives)
        while negatives:
            size = 1
            if len(negatives) > 1 and rng.random() < P_COORD:
                size = rng.randint(2, min(4, len(negatives)))
            group, negatives = negatives[:size], negatives[size:]
            kind = "coord" if size > 1 else "single"
            if size == 2 and self.negative_pairs and rng.random() < P_NEGATIVE_PAIR:
                kind = "pair"
            roll = rng.random()
            if kind == "single" and roll < P_RETRACT:
                # "Possible X" in the findings, withdrawn by the impression: negative.
                units.append(Unit(kind, tuple(group), "negative", SECTIONS, True))
                continue
            where = ("findings",) if roll < 0.85 else ("impression",)
            units.append(Unit(kind, tuple(group), "negative", where))
        return stated, units

    def _place(self, rng: random.Random, unit: Unit) -> List[Unit]:
        roll = rng.random()
        if unit.kind in ("pair", "combo"):
            units = [unit]
            if unit.kind == "combo" and rng.random() < P_RESTATE_COMBO:
                units.append(Unit("single", unit.labels[1:], unit.state, ("impression",)))
            return units
        is_finding = all(self.schema.group(lab) == "finding" for lab in unit.labels)
        if is_finding:
            where = ("findings",) if roll < 0.75 else ("findings", "impression")
        elif roll < 0.35:
            where = ("findings",)
        elif roll < 0.65:
            where = ("impression",)
        else:
            where = ("findings", "impression")
        sharpen = (
            unit.kind == "single"
            and unit.state == "positive"
            and len(where) == 2
            and rng.random() < P_SHARPEN
        )
        units = [Unit(unit.kind, unit.labels, unit.state, where, hedged_findings=sharpen)]
        # "Left basal atelectasis. Possible right basal atelectasis.": the committed mention
        # decides. A share of 0 draws nothing, so such templates keep their corpus.
        if (
            self.p_hedged_again
            and unit.kind == "single"
            and unit.state == "positive"
            and rng.random() < self.p_hedged_again
        ):
            again = Unit("single", unit.labels, "uncertain", where[:1])
            units.insert(rng.randint(0, 1), again)
        return units

    def _gold(self, stated: Dict[str, str], normal: bool = True) -> Dict[str, str]:
        # `normal`: the text calls the study normal when it finds nothing (a whole report
        # always does, in its impression).
        gold = {lab: self.schema.negative_state for lab in self.schema.labels}
        gold.update(stated)
        for label, state in stated.items():
            if RANK[state] > 0:
                for ancestor in self.schema.ancestors(label):
                    if RANK[gold[ancestor]] < RANK[state]:
                        gold[ancestor] = state
        found = any(
            RANK[gold[lab]] > 0 for lab in self.labels if self.schema.group(lab) == FINDING_GROUP
        )
        for summary in self.summaries:
            gold[summary] = "positive" if normal and not found else self.schema.negative_state
        return gold

    def _not_normal(self, gold: Dict[str, str]) -> None:
        # A sentence marked abnormal reports something no label covers.
        for summary in self.summaries:
            gold[summary] = self.schema.negative_state

    # ---- rendering ----

    def _variant(self, rng: random.Random, label: str) -> str:
        held = self.heldout_variants[label]
        if self.heldout and held and rng.random() < P_HELDOUT_VARIANT:
            return rng.choice(held)
        return rng.choice(self.seen_variants[label])

    def _phrase(
        self, rng: random.Random, label: str, modifiers: bool = True, negated: bool = False
    ) -> str:
        variant = self._variant(rng, label)
        site = self.sites[label]
        return grammar.render_phrase(rng, variant, label, site, modifiers, negated)

    def _eligible(
        self, kind: str, state: Optional[str], section: str, label: Optional[str], has_prior: bool
    ) -> List[Family]:
        return [
            f
            for f in self.families
            if f.kind == kind
            and f.state == state
            and section in f.sections
            and (has_prior or not f.comparison)
            and (f.labels is None or label in f.labels)
        ]

    def _family(
        self,
        rng: random.Random,
        kind: str,
        state: Optional[str],
        section: str,
        label: Optional[str],
        has_prior: bool,
    ) -> Family:
        return rng.choice(self._preferred(self._eligible(kind, state, section, label, has_prior)))

    def _preferred(self, families: List[Family]) -> List[Family]:
        # The test set uses held-out phrasing wherever the templates offer one.
        held = [f for f in families if f.heldout]
        return held if self.heldout and held else families

    def _clause(
        self, rng: random.Random, unit: Unit, state: str, section: str, has_prior: bool
    ) -> str:
        label = unit.labels[-1]
        family = self._family(rng, unit.kind, state, section, label, has_prior)
        pattern = rng.choice(family.patterns)
        slots: Dict[str, str] = {}
        if unit.kind == "coord":
            phrases = []
            for lab in unit.labels:
                phrase = self._variant(rng, lab)
                if state == "negative":
                    # A denied list qualifies any item ("no focal X, large Y or Z").
                    phrase = grammar.deny(rng, phrase, self.sites[lab])
                phrases.append(phrase if phrase not in phrases else self.seen_variants[lab][0])
            slots["X_or"] = grammar.join_list(phrases, "or")
            slots["X_and"] = grammar.join_list(phrases, "and")
        elif unit.kind == "combo":
            slots["F"] = self._phrase(rng, unit.labels[0])
            slots["X"] = self._phrase(rng, unit.labels[1], modifiers=False)
        else:
            # Sizes and places belong to things that are there, not to denied ones.
            negated = state == "negative"
            slots["X"] = self._phrase(rng, unit.labels[0], negated=negated)
            if len(unit.labels) > 1:
                slots["Y"] = self._phrase(rng, unit.labels[1], negated=negated)
        return grammar.fill(pattern, slots)

    def _question(self, rng: random.Random) -> str:
        family = self._family(rng, "question", None, "clinical", None, False)
        a, b = rng.sample(self.labels, 2)
        slots = {"X": self._variant(rng, a), "Y": self._variant(rng, b)}
        return grammar.fill(rng.choice(family.patterns), slots)

    def _clinical(self, rng: random.Random) -> str:
        sentences = rng.sample(self.templates.symptoms, rng.randint(1, 2))
        if rng.random() < P_QUESTION:
            question = self._question(rng)
            sentences.insert(rng.randint(0, len(sentences)), question)
        return " ".join(sentences)

    def _normal(
        self, rng: random.Random, pool: List[NormalSentence], gold: Dict[str, str], k: int
    ) -> List[NormalSentence]:
        quiet = {lab for lab in self.labels if RANK[gold[lab]] == 0}
        if any(s.abnormal for s in pool) and rng.random() >= P_ABNORMAL:
            pool = [s for s in pool if not s.abnormal]
        usable = [
            s
            for s in pool
            if (s.unless == ["all"] and len(quiet) == len(self.labels))
            or (s.unless != ["all"] and quiet.issuperset(s.unless))
        ]
        return rng.sample(usable, min(k, len(usable)))

    def _deny(self, gold: Dict[str, str], sentences: List[NormalSentence]) -> None:
        # "Heart size is normal." states cardiomegaly negative; it was only unmentioned.
        for sentence in sentences:
            for label in sentence.negates:
                gold[label] = "negative"

    def _join_scope(self, rng: random.Random, asserted: List[str], negated: List[str]) -> None:
        # "No haemorrhage; there is an acute infarct": negation stops at the clause.
        first, second = asserted.pop(), negated.pop()
        if rng.random() < 0.5:
            first, second = second, first
        asserted.append(first[:-1] + rng.choice(SCOPE_JOINS) + grammar.decapitalise(second))

    def _sections(self, rng: random.Random, units: List[Unit], has_prior: bool):
        findings: Dict[str, List[str]] = {"asserted": [], "negated": []}
        impression: List[str] = []
        for unit in units:
            for section in unit.sections:
                hedged = unit.hedged_findings and section == "findings"
                state = "uncertain" if hedged else unit.state
                clause = self._clause(rng, unit, state, section, has_prior)
                if section == "impression":
                    impression.append(clause)
                else:
                    findings["negated" if state == "negative" else "asserted"].append(clause)
        if findings["asserted"] and findings["negated"] and rng.random() < P_SCOPE:
            self._join_scope(rng, findings["asserted"], findings["negated"])
        return findings["asserted"] + findings["negated"], impression

    def _conclude(
        self, rng: random.Random, units: List[Unit], gold: Dict[str, str], has_prior: bool
    ) -> Tuple[List[str], bool]:
        """Write the impression of a plan that put nothing there; say if it is abnormal."""
        asserted = [u for u in units if u.state != "negative" and u.kind != "coord"]
        if asserted:
            unit = rng.choice(asserted)
            return [self._clause(rng, unit, unit.state, "impression", has_prior)], False
        normal = self._normal(rng, self.templates.normal_impression, gold, 1)
        summaries = [lab for lab in self.summaries if gold[lab] == "positive"]
        if summaries and (not normal or rng.random() < P_SUMMARY_IMPRESSION):
            variant = self._variant(rng, rng.choice(summaries))
            return [grammar.capitalise(variant) + "."], False
        self._deny(gold, normal)
        return [s.text for s in normal], any(s.abnormal for s in normal)

    def _style(self, rng: random.Random) -> Style:
        return Style(
            upper=rng.random() < 0.08,
            lower=rng.random() < 0.1,
            number_format=rng.choice(NUMBER_FORMATS),
            number_joiner=rng.choice(NUMBER_JOINERS),
            line_breaks=rng.choice((1, 2)) if rng.random() < 0.1 else 0,
            typo=rng.random() < 0.1,
            numbered_findings=rng.random() < 0.12,
            numbered_impression=rng.random() < 0.35,
            findings_joiner=rng.choice((" ", " ", "\n")),
            section_joiner=rng.choice(("\n\n", "\n", "\n", " ")),
            header_joiner=rng.choice((" ", " ", "\n")),
            title=rng.random() < 0.5,
            findings_header=rng.random() < 0.9,
        )

    def _render(
        self, rng: random.Random, units: List[Unit], gold: Dict[str, str], has_prior: bool
    ) -> Tuple[str, bool]:
        """Render the text; also say whether it holds a sentence marked abnormal."""
        style = self._style(rng)
        headers = self.templates.headers
        findings, impression = self._sections(rng, units, has_prior)
        normal = self._normal(rng, self.templates.normal_findings, gold, rng.randint(1, 4))
        self._deny(gold, normal)
        abnormal = any(s.abnormal for s in normal)
        findings += [s.text for s in normal]
        rng.shuffle(findings)
        if not impression:
            impression, abnormal_impression = self._conclude(rng, units, gold, has_prior)
            abnormal = abnormal or abnormal_impression
        parts = []
        if style.title and headers["title"]:
            parts.append(rng.choice(headers["title"]))
        parts.append(rng.choice(headers["clinical"]) + " " + self._clinical(rng))
        if has_prior and headers["comparison"]:
            date = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2015, 2024)}"
            parts.append(rng.choice(headers["comparison"]).format(date=date))
        body = (
            _numbered(findings, style)
            if style.numbered_findings
            else style.findings_joiner.join(findings)
        )
        header = rng.choice(headers["findings"]) + style.header_joiner
        parts.append((header if style.findings_header else "") + body)
        body = (
            _numbered(impression, style)
            if style.numbered_impression and len(impression) > 1
            else " ".join(impression)
        )
        parts.append(rng.choice(headers["impression"]) + style.header_joiner + body)
        text = style.section_joiner.join(parts)
        if style.line_breaks:
            text = grammar.add_line_breaks(rng, text, style.line_breaks)
        if style.typo:
            text = grammar.add_typo(rng, text)
        if style.lower:
            text = text.lower()
        return (text.upper() if style.upper else text), abnormal

    # ---- short items ----

    def _impression_only(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        # The clauses a short plan puts in either section, under at most an impression
        # header (CheXpert and MIMIC ship impressions only).
        has_prior = rng.random() < P_PRIOR
        stated, units = self._plan(rng, SHORT_MAIN_WEIGHTS, SHORT_FILLER_WEIGHTS)
        gold = self._gold(stated)
        findings, impression = self._sections(rng, units, has_prior)
        sentences = findings + impression
        if all(u.state == "negative" for u in units):
            # Nothing found: the impression says the study is normal, as a report's does.
            conclusion, abnormal = self._conclude(rng, units, gold, has_prior)
            sentences += conclusion
            if abnormal:
                self._not_normal(gold)
        numbered = len(sentences) > 1 and rng.random() < P_SHORT_NUMBERED
        body = _numbered(sentences, self._style(rng)) if numbered else " ".join(sentences)
        if rng.random() < P_SHORT_HEADER:
            body = rng.choice(self.templates.headers["impression"]) + " " + body
        return body, gold

    def _sentence(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        has_prior = rng.random() < P_PRIOR
        stated: Dict[str, str] = {}
        while not stated:
            if rng.random() < P_SHORT_COORD:
                labels = tuple(rng.sample(self.labels, rng.randint(2, 4)))
                unit = Unit("coord", labels, "negative")
                states: Tuple[str, ...] = ("negative",) * len(labels)
            else:
                unit = self._main_unit(rng)
                states = ("positive", unit.state) if unit.kind == "combo" else (unit.state,) * 2
            self._try_add(stated, list(zip(unit.labels, states)))
        label = unit.labels[-1]
        sections = [
            s for s in SECTIONS if self._eligible(unit.kind, unit.state, s, label, has_prior)
        ]
        clause = self._clause(rng, unit, unit.state, rng.choice(sections), has_prior)
        return clause, self._gold(stated)

    def _fragment(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        if not self.fragments or rng.random() < P_FRAGMENT_QUESTION:
            # "?SAH.": a question asserts nothing.
            return self._question(rng), self._gold({}, normal=False)
        fragment = rng.choice(self.fragments)
        normal = fragment.normal or bool(fragment.labels)
        return fragment.text, self._gold(dict(fragment.labels), normal=normal)

    def _quiet(self, rng: random.Random) -> Quiet:
        listed = self.label_free and rng.random() < P_LABEL_FREE_LIST
        return rng.choice(self.label_free if listed else self.furniture)

    def _quiet_gold(self, sentences: Sequence[Quiet]) -> Dict[str, str]:
        normal = any(s.normal for s in sentences) and not any(s.abnormal for s in sentences)
        gold = self._gold({}, normal=normal)
        for sentence in sentences:
            for label in sentence.negates:
                gold[label] = "negative"
        return gold

    def _label_free(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        sentence = self._quiet(rng)
        return sentence.text, self._quiet_gold([sentence])

    def _label_free_report(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        # Title, clinical details, a few label-free sentences, maybe a normal impression.
        headers = self.templates.headers
        parts = []
        if headers["title"] and rng.random() < 0.5:
            parts.append(rng.choice(headers["title"]))
        if self.templates.symptoms and rng.random() < 0.5:
            parts.append(
                rng.choice(headers["clinical"]) + " " + rng.choice(self.templates.symptoms)
            )
        sentences = [self._quiet(rng) for _ in range(rng.randint(1, 3))]
        body = " ".join(dict.fromkeys(s.text for s in sentences))
        parts.append((rng.choice(headers["findings"]) + " " if rng.random() < 0.5 else "") + body)
        if self.templates.normal_impression and rng.random() < 0.5:
            impression = rng.choice(self.templates.normal_impression)
            sentences.append(
                Quiet(
                    impression.text,
                    not impression.abnormal,
                    impression.abnormal,
                    impression.negates,
                )
            )
            parts.append(rng.choice(headers["impression"]) + " " + impression.text)
        return rng.choice(("\n", " ")).join(parts), self._quiet_gold(sentences)

    # ---- carrier items ----

    def _filler(self, rng: random.Random, label: str) -> str:
        site = self.sites[label]
        if site is not None and site.pre + site.post and rng.random() < P_CARRIER_SITE:
            return rng.choice(site.pre + site.post)
        n = rng.choices(range(len(CARRIER_FILLER_WEIGHTS)), CARRIER_FILLER_WEIGHTS)[0]
        return " ".join(rng.choice(self.neutral_words) for _ in range(n))

    def _cues(self, label: str, state: str) -> List[str]:
        # A template's single patterns of the state: the cue and its scope around the mention.
        families = self._preferred(self._eligible("single", state, "findings", label, False))
        return [p for f in families for p in f.patterns if "{X}" in p]

    def _carrier(self, rng: random.Random) -> Tuple[str, Dict[str, str]]:
        """One finding among random filler words; only a template's cue makes it not positive."""
        patterns: List[str] = []
        while not patterns:
            label, state = rng.choice(self.pairs)
            patterns = self._cues(label, state) if state != "positive" else [""]
        mention = self._phrase(rng, label, negated=state == "negative")
        core = mention
        if state != "positive":
            core = grammar.fill(rng.choice(patterns), {"X": mention}).rstrip(".")
        before, after = "", ""
        while not (before or after):
            before, after = self._filler(rng, label), self._filler(rng, label)
        words = [part for part in (before, core, after) if part]
        if before and core[:1].isupper() and not core[1:2].isupper():
            words[1] = grammar.decapitalise(core)
        return grammar.capitalise(" ".join(words)) + ".", self._gold({label: state}, normal=False)


def cue_words(templates: Templates) -> Set[str]:
    """The words of negative and uncertain single patterns that no positive pattern uses, and
    STATE_WORDS.

    templates (Templates): The templates whose cue inventory to read.
    RETURNS (Set[str]): Lower-cased cue words ("no", "not", "possible", "excluded").
    """
    words: Dict[str, Set[str]] = {state: set() for state in ASSERTED_STATES}
    for family in templates.families:
        if family.kind == "single" and family.state in words:
            for pattern in family.patterns:
                words[family.state].update(_words(SLOT_RE.sub(" ", pattern)))
    return (words["negative"] | words["uncertain"]) - words["positive"] | set(STATE_WORDS)


def _words(text: str) -> List[str]:
    return re.findall(r"[a-z]+", text.lower())


def _numbered(sentences: Sequence[str], style: Style) -> str:
    items = (style.number_format.format(i=i, s=s) for i, s in enumerate(sentences, 1))
    return style.number_joiner.join(items)


def _split_heldout(texts: Sequence[ShortText], heldout: bool) -> List[ShortText]:
    # Train and dev never see a held-out text; the test set uses them wherever there are some.
    held = [t for t in texts if t.heldout]
    return held if heldout and held else [t for t in texts if not t.heldout]
