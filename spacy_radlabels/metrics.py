"""Evaluation metrics for predicted label states against gold.

Accuracy, micro and macro F1 and per-label, per-state P/R/F1 come from the component's
scorer (`score_label_pairs`), so `evaluate` reports exactly what `spacy train` does;
scikit-learn adds micro precision/recall, Cohen's kappa and confusion matrices.
"""

import math
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from .scorer import (
    SCORE_ACC,
    SCORE_MACRO_F,
    SCORE_MICRO_F,
    SCORE_PER_LABEL,
    finding_states,
    score_label_pairs,
)

ALL_LABELS = "*"


def compute_metrics(
    gold: Sequence[Mapping[str, str]],
    predicted: Sequence[Mapping[str, str]],
    labels: Sequence[str],
    states: Sequence[str],
) -> Dict[str, Any]:
    """Compare predicted states with gold, doc by doc, for the labels annotated in gold.

    A label missing from a doc's gold is not annotated there and is left out for that doc.
    Micro and macro F1 average over the finding states (all but negative/absent); macro F1
    is the mean over labels of each label's mean F1 over the finding states it has in gold
    or predictions.

    gold (Sequence[Mapping[str, str]]): Gold {label: state} per doc.
    predicted (Sequence[Mapping[str, str]]): Predicted {label: state} per doc.
    labels (Sequence[str]): The labels to score, in report order.
    states (Sequence[str]): The states, in report order.
    RETURNS (Dict[str, Any]): JSON-serialisable metrics: "n_docs", "labels", "states",
        "finding_states", "accuracy", "micro" and "macro_f", "per_state" (pooled over
        labels) and "per_label" (each with "n", "accuracy", "kappa", "states" (P/R/F1 and
        support per state) and "confusion" (rows gold, columns predicted, in `states` order)).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold docs but {len(predicted)} predicted docs.")
    pairs = label_pairs(gold, predicted, labels)
    scores = score_label_pairs(pairs, labels, states)
    pooled = score_label_pairs([(ALL_LABELS, g, p) for _, g, p in pairs], [ALL_LABELS], states)
    findings = finding_states(states)
    per_label = {}
    for label in labels:
        label_gold = [g for name, g, _ in pairs if name == label]
        label_pred = [p for name, _, p in pairs if name == label]
        n = len(label_gold)
        per_label[label] = {
            "n": n,
            "accuracy": sum(g == p for g, p in zip(label_gold, label_pred)) / n if n else None,
            "kappa": kappa(label_gold, label_pred, states),
            "states": scores[SCORE_PER_LABEL][label],
            "confusion": confusion(label_gold, label_pred, states),
        }
    micro_p, micro_r = micro_precision_recall(pairs, labels, findings)
    return {
        "n_docs": len(gold),
        "n_pairs": len(pairs),
        "labels": list(labels),
        "states": list(states),
        "finding_states": findings,
        "accuracy": scores[SCORE_ACC],
        "micro": {"p": micro_p, "r": micro_r, "f": scores[SCORE_MICRO_F]},
        "macro_f": scores[SCORE_MACRO_F],
        "per_state": pooled[SCORE_PER_LABEL][ALL_LABELS],
        "per_label": per_label,
    }


def label_pairs(
    gold: Sequence[Mapping[str, str]],
    predicted: Sequence[Mapping[str, str]],
    labels: Sequence[str],
) -> List[Tuple[str, str, str]]:
    """Pair each annotated gold state with its prediction.

    gold (Sequence[Mapping[str, str]]): Gold {label: state} per doc.
    predicted (Sequence[Mapping[str, str]]): Predicted {label: state} per doc.
    labels (Sequence[str]): The labels to score.
    RETURNS (List[Tuple[str, str, str]]): (label, gold state, predicted state) triples.
    """
    known = set(labels)
    return [
        (label, state, pred[label])
        for doc_gold, pred in zip(gold, predicted)
        for label, state in doc_gold.items()
        if label in known
    ]


def kappa(gold: List[str], predicted: List[str], states: Sequence[str]) -> Optional[float]:
    """Compute Cohen's kappa between gold and predicted states of one label.

    gold (List[str]): Gold states.
    predicted (List[str]): Predicted states.
    states (Sequence[str]): All states.
    RETURNS (Optional[float]): Kappa, or None where it is undefined (no docs, or one state
        only in both, so chance agreement is 1).
    """
    if not gold or len(set(gold) | set(predicted)) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(cohen_kappa_score(gold, predicted, labels=list(states)))
    return None if math.isnan(value) else value


def confusion(gold: List[str], predicted: List[str], states: Sequence[str]) -> List[List[int]]:
    """Count gold state (rows) against predicted state (columns).

    gold (List[str]): Gold states.
    predicted (List[str]): Predicted states.
    states (Sequence[str]): Row and column order.
    RETURNS (List[List[int]]): The confusion matrix.
    """
    if not gold:
        return [[0] * len(states) for _ in states]
    return confusion_matrix(gold, predicted, labels=list(states)).tolist()


def micro_precision_recall(
    pairs: List[Tuple[str, str, str]], labels: Sequence[str], findings: Sequence[str]
) -> Tuple[float, float]:
    """Compute micro precision and recall over every (label, finding state) class.

    pairs (List[Tuple[str, str, str]]): (label, gold, predicted) triples.
    labels (Sequence[str]): The labels.
    findings (Sequence[str]): The finding states.
    RETURNS (Tuple[float, float]): Micro precision and recall.
    """
    if not pairs:
        return 0.0, 0.0
    classes = [f"{label}\t{state}" for label in labels for state in findings]
    gold = [f"{label}\t{g}" for label, g, _ in pairs]
    pred = [f"{label}\t{p}" for label, _, p in pairs]
    p, r, _, _ = precision_recall_fscore_support(
        gold, pred, labels=classes, average="micro", zero_division=0
    )
    return float(p), float(r)
