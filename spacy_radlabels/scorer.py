"""The scorer `spacy-radlabels.scorer.v1`: per-label, per-state P/R/F1, micro/macro F1."""

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.training import Example
from spacy.util import registry

DEFAULT_STATES = ("positive", "uncertain", "negative")
# States that mean "not reported as present": they carry no evidence and are not scored
# as findings in micro/macro F1.
NULL_STATES = ("negative", "absent")

SCORE_ACC = "labels_acc"
SCORE_MICRO_F = "labels_micro_f"
SCORE_MACRO_F = "labels_macro_f"
SCORE_PER_LABEL = "labels_per_label"
DEFAULT_SCORE_WEIGHTS = {
    SCORE_MACRO_F: 1.0,
    SCORE_MICRO_F: 0.0,
    SCORE_ACC: 0.0,
    SCORE_PER_LABEL: None,
}


def finding_states(states: Sequence[str]) -> List[str]:
    """Return the states that report a finding (every state but negative/absent)."""
    return [state for state in states if state not in NULL_STATES]


def _prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f, "support": tp + fn}


def score_label_pairs(
    pairs: Iterable[Tuple[str, str, str]], labels: Sequence[str], states: Sequence[str]
) -> Dict[str, Any]:
    """Score (label, gold state, predicted state) triples.

    pairs (Iterable[Tuple[str, str, str]]): One triple per annotated doc and label.
    labels (Sequence[str]): The labels to report.
    states (Sequence[str]): The states; micro/macro F1 average over the finding states.
    RETURNS (Dict[str, Any]): Accuracy, micro and macro F1, and per label and state
        {"p", "r", "f", "support"}.
    """
    counts = {(label, state): [0, 0, 0] for label in labels for state in states}
    n = correct = 0
    for label, gold, pred in pairs:
        n += 1
        correct += gold == pred
        if gold == pred:
            counts[(label, gold)][0] += 1
        else:
            counts[(label, pred)][1] += 1
            counts[(label, gold)][2] += 1
    findings = finding_states(states)
    per_label = {
        label: {state: _prf(*counts[(label, state)]) for state in states} for label in labels
    }
    micro = [sum(counts[(label, s)][i] for label in labels for s in findings) for i in range(3)]
    label_means = []
    for label in labels:
        # A state never seen nor predicted for a label has no defined F1: leave it out.
        defined = [per_label[label][s]["f"] for s in findings if any(counts[(label, s)])]
        if defined:
            label_means.append(sum(defined) / len(defined))
    return {
        SCORE_ACC: correct / n if n else 0.0,
        SCORE_MICRO_F: _prf(*micro)["f"],
        SCORE_MACRO_F: sum(label_means) / len(label_means) if label_means else 0.0,
        SCORE_PER_LABEL: per_label,
    }


def score_radlabels(
    examples: Iterable[Example],
    *,
    labels: Optional[Sequence[str]] = None,
    states: Sequence[str] = DEFAULT_STATES,
    **kwargs,
) -> Dict[str, Any]:
    """Score predicted `doc._.labels` against the gold on the reference docs.

    Only labels annotated in a reference doc are scored for that doc.

    examples (Iterable[Example]): Examples whose predicted docs went through `radlabels`.
    labels (Optional[Sequence[str]]): Labels to score; defaults to every gold label seen.
    states (Sequence[str]): The component's states.
    RETURNS (Dict[str, Any]): The scores; keys match the factory's default score weights.
    """
    examples = list(examples)
    if labels is None:
        labels = sorted({label for eg in examples for label in eg.reference._.labels or {}})
    known = set(labels)
    pairs = []
    for eg in examples:
        predicted = eg.predicted._.labels or {}
        for label, gold in (eg.reference._.labels or {}).items():
            if label in known and label in predicted:
                pairs.append((label, gold, predicted[label]))
    return score_label_pairs(pairs, labels, states)


@registry.scorers("spacy-radlabels.scorer.v1")
def make_radlabels_scorer() -> Callable[..., Dict[str, Any]]:
    """Create the `radlabels` scorer."""
    return score_radlabels
