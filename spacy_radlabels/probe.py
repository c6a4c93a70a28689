"""Behavioural probes of a pipeline: CheckList minimum-functionality cases from a schema.

The cases are built from the schema alone (labels, variants, states, hierarchy), with
carrier frames written for the probe and kept apart from the generator's templates (a test
checks that no probe sentence is a training sentence), so the probe measures what a model
learnt about cues and unrelated text rather than which templates it recalls (Ribeiro et al.,
"Beyond Accuracy: Behavioral Testing of NLP Models with CheckList", ACL 2020).

Two figures: target accuracy (the labels a case states, and the ancestors their states
imply) and the spurious rate (positive or uncertain on labels a case does not mention).
"""

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.language import Language

from .schema import Schema
from .scorer import finding_states
from .synth.generator import FINDING_GROUP, RANK, SUMMARY_GROUP
from .synth.grammar import add_line_breaks, add_typo, fill
from .synth.templates import ASSERTED_STATES, labels_mentioned

# Carrier frames per stated state and cue position ("before": the cue precedes the finding).
FRAMES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "positive": {
        "before": (
            "The images show {X}.",
            "Imaging today demonstrates {X}.",
            "Appearances are those of {X}.",
        ),
        "after": (
            "{X} is clearly present.",
            "{X} is confirmed on this examination.",
            "{X} is present on the current images.",
        ),
    },
    "negative": {
        "before": (
            "No sign of {X} on this examination.",
            "The images show no {X}.",
            "Nothing to suggest {X}.",
        ),
        "after": (
            "{X} is not appreciated.",
            "{X} has not been identified on this examination.",
            "{X} is not evident.",
        ),
    },
    "uncertain": {
        "before": (
            "There may be {X}.",
            "Appearances could be due to {X}.",
            "Appearances raise concern for {X}.",
        ),
        "after": (
            "{X} remains a possibility.",
            "{X} cannot be entirely ruled out.",
            "{X} is a differential consideration.",
        ),
    },
}
CAPABILITIES = {"positive": "positive", "negative": "negation", "uncertain": "uncertainty"}
# Sentences that name no finding; any that names a label of the schema is left out.
LABEL_FREE: Dict[str, Tuple[str, ...]] = {
    "history": (
        "History: routine follow-up.",
        "Clinical details: referred by the general practitioner for review.",
        "Indication: assessment before planned surgery.",
    ),
    "technique": (
        "Technique: standard departmental protocol.",
        "Images were acquired without complication.",
    ),
    "comparison": (
        "Comparison: none available.",
        "No previous imaging is available for comparison.",
    ),
    "normal study": (
        "Normal study.",
        "Normal examination.",
        "Unremarkable examination.",
        "No abnormality is detected on this examination.",
    ),
    "label-free report": (
        "HISTORY: Routine follow-up. TECHNIQUE: Standard departmental protocol. "
        "COMPARISON: None available. IMPRESSION: Normal examination.",
    ),
}
IMPRESSION_HEADER = "IMPRESSION:"
FINDINGS_HEADER = "FINDINGS:"
FINDINGS_CLOSE = "The study is otherwise unremarkable."
N_WORST = 25
SENTENCE_END_RE = re.compile(r"(?<=[.?!])\s+")
HEADER_RE = re.compile(r"^[a-z][a-z ]*:\s*")


@dataclass
class ProbeCase:
    """One probe: a text with the states it states, and what the hierarchy implies."""

    id: str
    capability: str
    test: str
    text: str
    # Label -> expected state: the stated labels and the ancestors their states imply.
    expected: Dict[str, str]
    # Implied ancestors, right when at least their expected state (uncertain < positive).
    implied: Tuple[str, ...] = ()
    # Summary labels (CheXpert's No Finding) -> their state by the schema's rule.
    summary: Dict[str, str] = field(default_factory=dict)


def split_sentences(text: str) -> List[str]:
    """Split a text into normalised sentences, to compare probe text with training text.

    Lower case, whitespace (line breaks included) collapsed, a leading section header
    ("impression:") dropped.

    text (str): A report or probe case.
    RETURNS (List[str]): The non-empty normalised sentences.
    """
    flat = re.sub(r"\s+", " ", text.lower()).strip()
    sentences = (HEADER_RE.sub("", sentence) for sentence in SENTENCE_END_RE.split(flat))
    return [sentence for sentence in sentences if sentence]


class CaseBuilder:
    """Build the probe cases of one schema.

    schema (Schema): The labels, variants, states and hierarchy.
    seed (int): Seeds the choice of variants and pairings; the same seed gives the same cases.
    """

    def __init__(self, schema: Schema, seed: int = 0) -> None:
        self.schema = schema
        self.seed = seed
        self.summaries = [lab for lab in schema.labels if schema.group(lab) == SUMMARY_GROUP]
        self.labels = [lab for lab in schema.labels if lab not in self.summaries]
        self.findings = set(finding_states(schema.states))

    def build(self) -> List[ProbeCase]:
        """Build every case: per label, then the label-free ones.

        RETURNS (List[ProbeCase]): The cases, in a fixed order with unique ids.
        """
        cases: List[ProbeCase] = []
        for index, label in enumerate(self.labels):
            cases.extend(self._label_cases(index, label))
        for test, sentences in LABEL_FREE.items():
            for i, sentence in enumerate(sentences):
                case_id = f"free-{test.replace(' ', '-')}-{i}"
                cases.append(self._case(case_id, "label-free", test, sentence, {}))
        return [case for case in cases if self._mentions_only_its_labels(case)]

    def _label_cases(self, index: int, label: str) -> List[ProbeCase]:
        # One random source per label, so adding a label leaves the others' cases as they are.
        rng = random.Random(f"{self.seed}-probe-{label}")
        variants = self.schema.variants(label)
        cases = []
        singles: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
        for state in ASSERTED_STATES:
            for order, frames in FRAMES[state].items():
                for i, frame in enumerate(frames):
                    variant = rng.choice(variants)
                    singles[state].append((frame, variant))
                    text = fill(frame, {"X": variant})
                    case_id = f"{label}-{state}-{order}-{i}"
                    # The frame names the test, so the report shows which wordings fail.
                    cases.append(
                        self._case(case_id, CAPABILITIES[state], frame, text, {label: state})
                    )
        # Sections and robustness rotate through the states, label by label.
        state = ASSERTED_STATES[index % len(ASSERTED_STATES)]
        frame, variant = rng.choice(singles[state])
        sentence = fill(frame, {"X": variant})
        sections = {
            "impression only": f"{IMPRESSION_HEADER} {sentence}",
            "findings only": f"{FINDINGS_HEADER} {sentence} {FINDINGS_CLOSE}",
        }
        for test, text in sections.items():
            case_id = f"{label}-{test.split()[0]}"
            cases.append(self._case(case_id, "sections", test, text, {label: state}))
        state = ASSERTED_STATES[(index + 1) % len(ASSERTED_STATES)]
        frame, variant = rng.choice(singles[state])
        sentence = fill(frame, {"X": variant})
        noisy = {"upper case": sentence.upper(), "typo": add_typo(rng, sentence)}
        if " " in variant:
            noisy["line break"] = fill(frame, {"X": variant.replace(" ", "\n", 1)})
        else:
            noisy["line break"] = add_line_breaks(rng, sentence, 1)
        for test, text in noisy.items():
            # A sentence without a long word gets no typo: no case rather than a duplicate.
            if text != sentence:
                case_id = f"{label}-{test.replace(' ', '-')}"
                cases.append(self._case(case_id, "robustness", test, text, {label: state}))
        other = self._unrelated(rng, label)
        if other is not None:
            negated = fill(rng.choice(self._frames("negative")), {"X": rng.choice(variants)})
            other_variant = rng.choice(self.schema.variants(other))
            stated = fill(rng.choice(self._frames("positive")), {"X": other_variant})
            gold = {label: "negative", other: "positive"}
            orders = {
                "negated, then positive": (negated, stated),
                "positive, then negated": (stated, negated),
            }
            for i, (test, pair) in enumerate(orders.items()):
                cases.append(self._case(f"{label}-scope-{i}", "scope", test, " ".join(pair), gold))
        return cases

    @staticmethod
    def _frames(state: str) -> List[str]:
        return [frame for frames in FRAMES[state].values() for frame in frames]

    def _unrelated(self, rng: random.Random, label: str) -> Optional[str]:
        related = {label, *self.schema.ancestors(label), *self.schema.descendants(label)}
        others = [lab for lab in self.labels if lab not in related]
        return rng.choice(others) if others else None

    def _case(
        self, case_id: str, capability: str, test: str, text: str, stated: Dict[str, str]
    ) -> ProbeCase:
        expected = dict(stated)
        implied = []
        for label, state in stated.items():
            if state not in self.findings:
                continue
            for ancestor in self.schema.ancestors(label):
                if ancestor in stated:
                    continue
                if ancestor not in expected or RANK[state] > RANK[expected[ancestor]]:
                    expected[ancestor] = state
                if ancestor not in implied:
                    implied.append(ancestor)
        abnormal = any(
            self.schema.group(label) == FINDING_GROUP and state in self.findings
            for label, state in expected.items()
        )
        summary_state = self.schema.negative_state if abnormal else "positive"
        summary = {label: summary_state for label in self.summaries}
        return ProbeCase(case_id, capability, test, text, expected, tuple(implied), summary)

    def _mentions_only_its_labels(self, case: ProbeCase) -> bool:
        # A frame or label-free sentence that names another label of this schema would make
        # that label mentioned; such a case is left out rather than scored wrongly.
        allowed = set(case.expected)
        for label in case.expected:
            allowed.update(self.schema.ancestors(label))
        return set(labels_mentioned(case.text, self.schema)) <= allowed


def build_cases(schema: Schema, seed: int = 0) -> List[ProbeCase]:
    """Build the probe cases of a schema.

    schema (Schema): The labels, variants, states and hierarchy.
    seed (int): Seeds the choice of variants and pairings.
    RETURNS (List[ProbeCase]): The cases.
    """
    return CaseBuilder(schema, seed).build()


class _Tally:
    """Counts behind the probe's rates, for one slice of the cases."""

    def __init__(self) -> None:
        self.cases = 0
        self.target = 0
        self.target_ok = 0
        self.per_state: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
        self.unmentioned = 0
        self.spurious = 0
        self.unmentioned_exact = 0
        self.summary = 0
        self.summary_ok = 0

    def as_dict(self, states: Sequence[str]) -> Dict[str, Any]:
        return {
            "n_cases": self.cases,
            "n_target": self.target,
            "target_accuracy": _rate(self.target_ok, self.target),
            "target_accuracy_per_state": {
                state: _rate(self.per_state[state][1], self.per_state[state][0]) for state in states
            },
            "target_support_per_state": {state: self.per_state[state][0] for state in states},
            "n_unmentioned": self.unmentioned,
            "n_spurious": self.spurious,
            "spurious_rate": _rate(self.spurious, self.unmentioned),
            "unmentioned_accuracy": _rate(self.unmentioned_exact, self.unmentioned),
            "n_summary": self.summary,
            "summary_accuracy": _rate(self.summary_ok, self.summary),
        }


def _rate(count: int, total: int) -> Optional[float]:
    return count / total if total else None


def score_probe(
    cases: Sequence[ProbeCase],
    predicted: Sequence[Dict[str, str]],
    schema: Schema,
    n_worst: int = N_WORST,
) -> Dict[str, Any]:
    """Score predicted states on the probe cases.

    A stated label is right when predicted in its state; an implied ancestor when predicted
    in at least its state (positive for uncertain). Every other label, except summary
    labels (scored by their rule, apart), is unmentioned: positive or uncertain there is
    spurious.

    cases (Sequence[ProbeCase]): The cases.
    predicted (Sequence[Dict[str, str]]): Predicted {label: state}, case by case.
    schema (Schema): The schema the cases were built from.
    n_worst (int): How many of the cases with the most errors to list.
    RETURNS (Dict[str, Any]): JSON-serialisable metrics: the totals of `_Tally.as_dict`,
        "per_capability", "per_test" (a list: a test is a frame, a noise or a section
        kind), "per_label" and "worst_cases".
    """
    if len(cases) != len(predicted):
        raise ValueError(f"{len(cases)} probe cases but {len(predicted)} predictions.")
    findings = set(finding_states(schema.states))
    states = [state for state in schema.states if state in ASSERTED_STATES]
    summaries = [lab for lab in schema.labels if schema.group(lab) == SUMMARY_GROUP]
    labels = [lab for lab in schema.labels if lab not in summaries]
    total = _Tally()
    per_capability: Dict[str, _Tally] = defaultdict(_Tally)
    per_test: Dict[Tuple[str, str], _Tally] = defaultdict(_Tally)
    per_label: Dict[str, _Tally] = {label: _Tally() for label in labels}
    failures = []
    for index, (case, pred) in enumerate(zip(cases, predicted)):
        slices = (total, per_capability[case.capability], per_test[(case.capability, case.test)])
        missed = {}
        spurious = {}
        for tally in slices:
            tally.cases += 1
        for label in labels:
            state = pred.get(label, schema.negative_state)
            if label in case.expected:
                gold = case.expected[label]
                ok = state == gold or (
                    label in case.implied and state in findings and RANK[state] >= RANK[gold]
                )
                if not ok:
                    missed[label] = {"expected": gold, "predicted": state}
                for tally in (*slices, per_label[label]):
                    tally.target += 1
                    tally.target_ok += ok
                    tally.per_state[gold][0] += 1
                    tally.per_state[gold][1] += ok
            else:
                wrong = state in findings
                if wrong:
                    spurious[label] = state
                for tally in (*slices, per_label[label]):
                    tally.unmentioned += 1
                    tally.spurious += wrong
                    tally.unmentioned_exact += state == schema.negative_state
        for label, gold in case.summary.items():
            state = pred.get(label, schema.negative_state)
            if state != gold:
                missed[label] = {"expected": gold, "predicted": state}
            for tally in slices:
                tally.summary += 1
                tally.summary_ok += state == gold
        if missed or spurious:
            failures.append((len(missed) + len(spurious), index, case, missed, spurious))
    failures.sort(key=lambda failure: (-failure[0], failure[1]))
    worst = [
        {
            "id": case.id,
            "capability": case.capability,
            "test": case.test,
            "text": case.text,
            "missed": missed,
            "spurious": spurious,
        }
        for _, _, case, missed, spurious in failures[:n_worst]
    ]
    return {
        "schema": schema.name,
        "states": list(schema.states),
        "target_states": states,
        **total.as_dict(states),
        "n_failed_cases": len(failures),
        "per_capability": {name: tally.as_dict(states) for name, tally in per_capability.items()},
        "per_test": [
            {"capability": capability, "test": test, **tally.as_dict(states)}
            for (capability, test), tally in per_test.items()
        ],
        "per_label": {label: tally.as_dict(states) for label, tally in per_label.items()},
        "worst_cases": worst,
    }


def run_probe(
    nlp: Language,
    schema: Schema,
    seed: int = 0,
    batch_size: int = 64,
    n_worst: int = N_WORST,
) -> Dict[str, Any]:
    """Build the probe cases of a schema, label them with a pipeline and score them.

    nlp (Language): A pipeline that sets doc._.labels for the schema's labels.
    schema (Schema): The schema the pipeline was trained with.
    seed (int): Seeds the cases.
    batch_size (int): Cases per batch.
    n_worst (int): How many of the cases with the most errors to list.
    RETURNS (Dict[str, Any]): The metrics of `score_probe`, with the seed.
    """
    cases = build_cases(schema, seed)
    predicted = [
        dict(doc._.labels or {})
        for doc in nlp.pipe((case.text for case in cases), batch_size=batch_size)
    ]
    return {"seed": seed, **score_probe(cases, predicted, schema, n_worst)}
