"""The scorer against hand-computed figures."""

import pytest
import spacy
from spacy.training import Example

from spacy_radlabels.scorer import DEFAULT_SCORE_WEIGHTS, score_label_pairs, score_radlabels

STATES = ["positive", "uncertain", "negative"]


def test_hand_computed_scores():
    pairs = [
        ("a", "positive", "positive"),
        ("a", "positive", "uncertain"),
        ("a", "negative", "positive"),
        ("a", "uncertain", "uncertain"),
        ("b", "negative", "negative"),
        ("b", "positive", "positive"),
    ]
    scores = score_label_pairs(pairs, ["a", "b"], STATES)
    assert scores["labels_acc"] == pytest.approx(4 / 6)
    a = scores["labels_per_label"]["a"]
    # a/positive: TP 1, FP 1 (neg->pos), FN 1 (pos->unc)
    assert a["positive"] == {"p": 0.5, "r": 0.5, "f": 0.5, "support": 2}
    # a/uncertain: TP 1, FP 1 (pos->unc), FN 0
    assert a["uncertain"]["p"] == pytest.approx(0.5)
    assert a["uncertain"]["r"] == pytest.approx(1.0)
    assert a["uncertain"]["f"] == pytest.approx(2 / 3)
    # micro over positive+uncertain: TP 3, FP 2, FN 1 -> P 3/5, R 3/4
    assert scores["labels_micro_f"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    # macro: a = mean(0.5, 2/3); b = positive only (uncertain never seen nor predicted)
    assert scores["labels_macro_f"] == pytest.approx(((0.5 + 2 / 3) / 2 + 1.0) / 2)


def test_scorer_keys_match_score_weights():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("No mass.")
    doc._.labels = {"mass": "negative"}
    ref = nlp.make_doc("No mass.")
    ref._.labels = {"mass": "positive"}
    scores = score_radlabels([Example(doc, ref)], states=STATES, unused_cfg_key=True)
    assert set(scores) == set(DEFAULT_SCORE_WEIGHTS)
    assert scores["labels_acc"] == 0.0


def test_unannotated_labels_are_not_scored():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("No mass.")
    doc._.labels = {"mass": "negative", "cyst": "positive"}
    ref = nlp.make_doc("No mass.")
    ref._.labels = {"mass": "negative"}
    scores = score_radlabels([Example(doc, ref)], labels=["mass", "cyst"], states=STATES)
    assert scores["labels_acc"] == 1.0
    assert scores["labels_per_label"]["cyst"]["positive"]["support"] == 0
