"""The cue lexicon's scope features and the `CueMultiHashEmbed` layers that embed them."""

import numpy
import pytest
import spacy
from spacy.util import registry

from spacy_radlabels.cues import (
    LATEST,
    LEXICONS,
    N_FEATURES,
    NEGATION,
    NONE,
    PROBABLE,
    PSEUDO,
    TERMINATOR,
    UNCERTAINTY,
    WINDOW,
    clinical_sections,
    cue_features,
)

NLP = spacy.blank("en")


def scopes(text: str, version: int = LATEST) -> dict:
    """Map each token's text to (cue kind, negated, hedged)."""
    doc = NLP.make_doc(text)
    features = cue_features(doc, version)
    return {t.text: (f // 8, bool(f & 1), bool(f & 2)) for t, f in zip(doc, features)}


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


@pytest.mark.parametrize(
    "text,version",
    [
        ("No bleed but there is mass effect.", 2),
        ("No bleed\nMass effect", 2),
        ("No bleed\n\nmass effect", 2),
        ("No bleed\n2. mass effect", 2),
        ("No bleed\nmass effect", 1),
    ],
)
def test_terminator_ends_scope(text, version):
    found = {word.lower(): value for word, value in scopes(text, version).items()}
    assert found["bleed"][1]
    assert found["mass"] == (NONE, False, False)


@pytest.mark.parametrize("text", ["No acute\nhaemorrhage.", "NO ACUTE\nHAEMORRHAGE"])
def test_wrapped_line_keeps_the_scope_in_version_2(text):
    found = {word.lower(): value for word, value in scopes(text).items()}
    assert found["haemorrhage"] == (NONE, True, False)


def test_intensifier_inside_a_multiword_cue():
    found = scopes("Hydrocephalus cannot be entirely ruled out.")
    assert found["Hydrocephalus"] == (NONE, False, True)
    assert found["entirely"][0] == UNCERTAINTY
    # Version 1 reads "not" and "ruled out" as two negations.
    assert scopes("Hydrocephalus cannot be entirely ruled out.", 1)["Hydrocephalus"][1]


@pytest.mark.parametrize(
    "text,finding",
    [
        ("Nothing to suggest hydrocephalus.", "hydrocephalus"),
        ("No evidence to suggest an infarct.", "infarct"),
        ("Appearances are not suggestive of pneumonia.", "pneumonia"),
    ],
)
def test_negation_takes_over_suggest(text, finding):
    found = scopes(text)
    assert found[finding] == (NONE, True, False)
    assert scopes(text, 1)[finding] == (NONE, True, True)


def test_suggest_after_a_negated_finding_still_hedges():
    found = scopes("No effusion, findings suggest pneumonia.")
    assert found["suggest"][0] == UNCERTAINTY
    assert found["pneumonia"][2]


def test_differential_hedges_either_side():
    assert scopes("Abscess is a differential consideration.")["Abscess"] == (NONE, False, True)
    assert scopes("Differential includes abscess.")["abscess"] == (NONE, False, True)
    assert scopes("Abscess is a differential consideration.", 1)["Abscess"] == (NONE, False, False)


@pytest.mark.parametrize(
    "text,finding,negated,hedged",
    [
        ("Notihng to suggest hydrocephalus.", "hydrocephalus", True, False),
        ("Effusion remains a psosibility.", "Effusion", False, True),
        ("Effusion remains a possibiliy.", "Effusion", False, True),
        ("Hydrocephalus cannot be ecxluded.", "Hydrocephalus", False, True),
        ("Effusion is unremakrable.", "Effusion", True, False),
    ],
)
def test_version_3_reads_a_misspelt_cue_word(text, finding, negated, hedged):
    assert scopes(text, 3)[finding] == (NONE, negated, hedged)
    assert scopes(text, 2)[finding] != (NONE, negated, hedged)


@pytest.mark.parametrize(
    "word",
    # Other words (the first or last letter slips), a short word's slips, a listed real word.
    ["noting", "arises", "suspects", "nto", "revolution"],
)
def test_version_3_leaves_real_words_and_short_words_alone(word):
    assert LEXICONS[3].typos.get(word) is None
    doc = NLP.make_doc(f"{word} effusion")
    assert cue_features(doc, 3) == cue_features(doc, 2)


def test_version_3_misspellings_are_no_cue_words():
    index = LEXICONS[3].index
    cue_words = {word for matches in index.values() for words, _, _ in matches for word in words}
    assert LEXICONS[3].typos and not cue_words & set(LEXICONS[3].typos)
    assert set(LEXICONS[3].typos.values()) <= cue_words


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


@pytest.mark.parametrize("version", sorted(LEXICONS))
def test_features_are_in_range_and_one_per_token(version):
    text = "HISTORY: ?PE.\nIMPRESSION: 1. No effusion; possible small pneumothorax?\n\n2. Stable."
    doc = NLP.make_doc(text)
    features = cue_features(doc, version)
    assert len(features) == len(doc)
    assert all(0 <= f < LEXICONS[version].n_features for f in features)
    assert features[1] // 8 == TERMINATOR
    assert cue_features(NLP.make_doc(""), version) == []


def clinical(text: str) -> list:
    """The texts of the tokens that clinical_sections marks."""
    doc = NLP.make_doc(text)
    return [token.text for token, inside in zip(doc, clinical_sections(doc)) if inside]


@pytest.mark.parametrize(
    "text,marked",
    [
        # Open-i's layout: blank lines between sections.
        ("INDICATION: Pneumonia.\n\nFINDINGS: There is pneumonia.", ["Pneumonia", "."]),
        # One line: a heading in capitals ends the clinical details.
        ("CLINICAL DETAILS: ?SAH. FINDINGS: No SAH. IMPRESSION: Normal.", ["?", "SAH", "."]),
        ("Clinical history: cough.\nFindings: consolidation.", ["cough", "."]),
        # A title on the same line: the heading is the run in capitals or with a section word.
        ("CT Head CLINICAL DETAILS: ?SAH. REPORT: No SAH.", ["?", "SAH", "."]),
        ("CT BRAIN (NON-CONTRAST) Clinical details: Fall. Findings: SDH.", ["Fall", "."]),
        ("ct head clinical information: fall. findings: sdh.", ["fall", "."]),
        # A wrapped line goes on; a line that starts a statement ends the section.
        ("Hx: cough and\nfever.\nThere is consolidation.", ["cough", "and", "\n", "fever", "."]),
        ("COMPARISON: None.\nFINDINGS: Clear.", []),
        ("Pleural effusion. At 10:30 pneumonia.", []),
        ("Effusion, given the history: pneumonia.", []),
    ],
)
def test_version_4_marks_the_clinical_details(text, marked):
    assert clinical(text) == marked


def test_version_4_is_version_3_apart_from_the_clinical_details():
    doc = NLP.make_doc("INDICATION: No fever, ?pneumonia.\n\nIMPRESSION: No pneumonia.")
    inside = clinical_sections(doc)
    v3, v4 = cue_features(doc, 3), cue_features(doc, 4)
    assert v4 == [f + N_FEATURES * marked for f, marked in zip(v3, inside)]
    assert LEXICONS[4].n_features == 2 * LEXICONS[3].n_features == 2 * N_FEATURES


def build_embed(width: int = 8, name: str = "spacy-radlabels.CueMultiHashEmbed.v4"):
    make = registry.architectures.get(name)
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


def test_embed_takes_a_batch_of_only_empty_docs():
    model, docs = build_embed()
    empty = [NLP.make_doc(""), NLP.make_doc("")]
    vectors, backprop = model.begin_update(empty)
    assert [v.shape for v in vectors] == [(0, 8), (0, 8)]
    backprop(vectors)


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


def test_embed_versions_read_their_own_lexicon():
    text = "Nothing to suggest an effusion."
    for version in sorted(LEXICONS):
        model, _ = build_embed(name=f"spacy-radlabels.CueMultiHashEmbed.v{version}")
        (layer,) = [node for node in model.walk() if node.name == "cue_features"]
        features, _ = layer([NLP.make_doc(text)], is_train=False)
        assert features[0][:, 0].tolist() == cue_features(NLP.make_doc(text), version)
    assert cue_features(NLP.make_doc(text), 1) != cue_features(NLP.make_doc(text), 2)
    slip = NLP.make_doc("Notihng to suggest an effusion.")
    assert cue_features(slip, 2) != cue_features(slip, 3)


def test_embed_v4_reads_the_clinical_details():
    model, _ = build_embed()
    docs = [NLP.make_doc("INDICATION: effusion."), NLP.make_doc("FINDINGS: effusion.")]
    vectors = model.predict(docs)
    # The same token with the same cue scope, once in the clinical details.
    assert not numpy.allclose(vectors[0][2], vectors[1][2])


@pytest.mark.parametrize("version", sorted(LEXICONS))
def test_embed_rejects_mismatched_rows(version):
    make = registry.architectures.get(f"spacy-radlabels.CueMultiHashEmbed.v{version}")
    with pytest.raises(ValueError, match="one number of rows per attribute"):
        make(width=8, attrs=["NORM", "SHAPE"], rows=[50], include_static_vectors=False)


@pytest.mark.parametrize("version", sorted(LEXICONS))
def test_each_cue_phrase_has_one_kind(version):
    index = LEXICONS[version].index
    phrases = [words for matches in index.values() for words, _, _ in matches]
    assert len(phrases) == len(set(phrases))
