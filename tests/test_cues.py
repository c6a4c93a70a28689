"""The cue lexicon's scope features and the `CueMultiHashEmbed.v1` layer that embeds them."""

import numpy
import pytest
import spacy
from spacy.util import registry

from spacy_radlabels.cues import (
    LEXICON,
    N_FEATURES,
    NEGATION,
    NONE,
    PROBABLE,
    PSEUDO,
    TERMINATOR,
    UNCERTAINTY,
    WINDOW,
    cue_features,
)

NLP = spacy.blank("en")


def scopes(text: str) -> dict:
    """Map each token's text to (cue kind, negated, hedged)."""
    doc = NLP.make_doc(text)
    return {t.text: (f // 8, bool(f & 1), bool(f & 2)) for t, f in zip(doc, cue_features(doc))}


def test_negation_reaches_forward_and_back():
    assert scopes("No acute haemorrhage.")["haemorrhage"] == (NONE, True, False)
    assert scopes("Haemorrhage is not seen.")["Haemorrhage"] == (NONE, True, False)
    assert scopes("Nothing to suggest hydrocephalus.")["Nothing"][0] == NEGATION


def test_longest_cue_wins_hedging_over_negation():
    found = scopes("Hydrocephalus cannot be excluded.")
    assert found["Hydrocephalus"] == (NONE, False, True)
    assert found["not"][0] == UNCERTAINTY


def test_committed_hedge_has_its_own_scope():
    doc = NLP.make_doc("Opacity likely representing atelectasis.")
    features = dict(zip([t.text for t in doc], cue_features(doc)))
    assert features["likely"] // 8 == PROBABLE
    assert features["atelectasis"] == NONE * 8 + 4
    assert features["Opacity"] == 0


def test_pseudo_cue_negates_nothing():
    found = scopes("No change in the small effusion.")
    assert found["No"][0] == PSEUDO
    assert found["effusion"] == (NONE, False, False)


@pytest.mark.parametrize("text", ["No bleed but there is mass effect.", "No bleed\nmass effect"])
def test_terminator_ends_scope(text):
    found = scopes(text)
    assert found["bleed"][1]
    assert found["mass"] == (NONE, False, False)


def test_question_mark_hedges_the_side_it_is_glued_to():
    assert scopes("?SAH. Stable.")["SAH"] == (NONE, False, True)
    after = scopes("SAH? No bleed.")
    assert after["SAH"] == (NONE, False, True)
    assert after["bleed"] == (NONE, True, False)


def test_scope_stops_after_window():
    words = ["no"] + [f"w{i}" for i in range(WINDOW + 2)]
    doc = NLP.make_doc(" ".join(words))
    negated = [bool(f & 1) for f in cue_features(doc)]
    assert negated[1 : WINDOW + 1] == [True] * WINDOW
    assert not any(negated[WINDOW + 1 :])


def test_features_are_in_range_and_one_per_token():
    doc = NLP.make_doc("IMPRESSION: 1. No effusion; possible small pneumothorax?\n\n2. Stable.")
    features = cue_features(doc)
    assert len(features) == len(doc)
    assert all(0 <= f < N_FEATURES for f in features)
    assert features[1] // 8 == TERMINATOR
    assert cue_features(NLP.make_doc("")) == []


def build_embed(width: int = 8):
    make = registry.architectures.get("spacy-radlabels.CueMultiHashEmbed.v1")
    model = make(width=width, attrs=["NORM", "SHAPE"], rows=[50, 20],
                 include_static_vectors=False, cue_width=4)  # fmt: skip
    docs = [NLP.make_doc("No effusion."), NLP.make_doc("An effusion."), NLP.make_doc("")]
    model.initialize(X=docs[:2])
    return model, docs


def test_embed_gives_one_row_per_token_and_reads_the_cue():
    model, docs = build_embed()
    vectors = model.predict(docs)
    assert [v.shape for v in vectors] == [(3, 8), (3, 8), (0, 8)]
    # "effusion" gets the same hashed features in both docs; only its cue scope differs.
    assert not numpy.allclose(vectors[0][1], vectors[1][1])


def test_embed_backprop_and_serialization():
    model, docs = build_embed()
    vectors, backprop = model.begin_update(docs)
    backprop([model.ops.alloc2f(*v.shape) + 1 for v in vectors])
    (cue_table,) = [node for node in model.walk() if node.name == "embed"]
    assert cue_table.get_grad("E").any()
    copy, _ = build_embed()
    copy.from_bytes(model.to_bytes())
    for a, b in zip(model.predict(docs), copy.predict(docs)):
        numpy.testing.assert_allclose(a, b)


def test_embed_rejects_mismatched_rows():
    make = registry.architectures.get("spacy-radlabels.CueMultiHashEmbed.v1")
    with pytest.raises(ValueError, match="one number of rows per attribute"):
        make(width=8, attrs=["NORM", "SHAPE"], rows=[50], include_static_vectors=False)


def test_each_cue_phrase_has_one_kind():
    phrases = [words for matches in LEXICON.values() for words, _, _ in matches]
    assert len(phrases) == len(set(phrases))
