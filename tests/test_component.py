"""The radlabels component: training, outputs on hard docs, gold handling, hierarchy."""

import json
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_radlabels.gold import GoldError

from .conftest import LABELS, train_blank

HARD_TEXTS = [
    "",
    "   \n\t ",
    "Hémorragie sous-arachnoïdienne? 脳出血なし. Ödem ✓ — no haemorrhage.",
    " ".join(["no haemorrhage ."] * 6667)[:200000],  # 20,001 tokens
]


def test_blank_pipeline_without_import_trains_and_labels():
    """A user who never imports spacy_radlabels can add, train and run the component."""
    script = """
import json, sys, spacy
from spacy.training import Example
assert "spacy_radlabels" not in sys.modules
nlp = spacy.blank("en")
nlp.add_pipe("radlabels")
texts = ["No haemorrhage. Acute infarct.", "Possible haemorrhage.", ""]
golds = [{"haemorrhage": "negative", "infarct": "positive"}, {"haemorrhage": "uncertain"}, {}]
examples = []
for text, gold in zip(texts, golds):
    ref = nlp.make_doc(text)
    ref._.labels = gold
    examples.append(Example(nlp.make_doc(text), ref))
optimizer = nlp.initialize(lambda: examples)
for _ in range(20):
    losses = nlp.update(examples, sgd=optimizer)
print(json.dumps([doc._.labels for doc in nlp.pipe(texts + ["unseen words"])]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(results) == 4
    for labels in results:
        assert set(labels) == {"haemorrhage", "infarct"}
        assert set(labels.values()) <= {"positive", "uncertain", "negative"}
    assert results[0] == {"haemorrhage": "negative", "infarct": "positive"}
    assert results[1]["haemorrhage"] == "uncertain"


def test_trained_pipeline_fits_training_reports(trained_nlp, reports):
    docs = list(trained_nlp.pipe(r["text"] for r in reports))
    for doc, report in zip(docs, reports):
        assert doc._.labels == report["labels"], doc.text


@pytest.mark.parametrize("text", HARD_TEXTS, ids=["empty", "whitespace", "non-ascii", "20k"])
def test_hard_docs_give_valid_outputs(trained_nlp, text):
    doc = trained_nlp(text)
    pipe = trained_nlp.get_pipe("radlabels")
    assert set(doc._.labels) == set(LABELS)
    for label, state in doc._.labels.items():
        probs = doc._.label_scores[label]
        assert state in pipe.states
        assert not any(numpy.isnan(p) for p in probs.values())
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
        span = doc._.label_evidence[label]
        if span is not None:
            assert 0 <= span.start < span.end <= len(doc)
    probs, attention = pipe.predict([trained_nlp.make_doc(text)])
    assert attention.dataXd.shape == (len(doc), len(LABELS))
    assert not numpy.isnan(probs).any()
    if len(doc):
        numpy.testing.assert_allclose(attention.dataXd.sum(axis=0, dtype="float64"), 1.0, rtol=1e-4)


def test_batch_of_empty_docs(trained_nlp):
    docs = list(trained_nlp.pipe(["", " ", ""]))
    assert all(set(doc._.labels) == set(LABELS) for doc in docs)


def test_attention_is_kept_for_non_negative_labels(trained_nlp):
    doc = trained_nlp("There is an acute haemorrhage. No mass.")
    assert doc._.labels["haemorrhage"] == "positive"
    assert set(doc._.label_attention) == {
        label for label, state in doc._.labels.items() if state != "negative"
    }
    assert len(doc._.label_attention["haemorrhage"]) == len(doc)
    assert "haemorrhage" in doc._.label_evidence["haemorrhage"].text
    assert doc._.label_evidence["mass"] is None


def test_missing_gold_gives_no_gradient(trained_nlp):
    pipe = trained_nlp.get_pipe("radlabels")
    doc = trained_nlp.make_doc("No mass.")
    ref = trained_nlp.make_doc("No mass.")
    ref._.labels = {"mass": "negative"}
    scores = pipe.model.predict([doc])
    _, d_logits = pipe.get_loss([Example(doc, ref)], scores)
    mass = pipe.labels.index("mass")
    others = [j for j in range(len(pipe.labels)) if j != mass]
    assert not d_logits[0, others].any()
    assert d_logits[0, mass].any()


@pytest.mark.parametrize(
    "gold,message",
    [
        ({"tumour": "positive"}, "'tumour'"),
        ({"mass": "present"}, "'present'"),
        (["mass"], "not a dict"),
    ],
)
def test_bad_gold_names_label_and_fix(trained_nlp, gold, message):
    pipe = trained_nlp.get_pipe("radlabels")
    ref = trained_nlp.make_doc("No mass.")
    ref._.labels = gold
    example = Example(trained_nlp.make_doc("No mass."), ref)
    with pytest.raises(GoldError, match=message):
        pipe.get_loss([example], pipe.model.predict([example.predicted]))


def test_labels_come_from_examples_or_argument():
    def examples(nlp):
        ref = nlp.make_doc("No mass.")
        ref._.labels = {"mass": "negative", "cyst": "positive"}
        return [Example(nlp.make_doc("No mass."), ref)]

    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("radlabels")
    nlp.initialize(lambda: examples(nlp))
    assert pipe.labels == ("cyst", "mass")
    with pytest.raises(ValueError, match="cannot be resized"):
        pipe.initialize(lambda: examples(nlp), labels=["mass"])
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("radlabels")
    pipe.initialize(lambda: examples(nlp), nlp=nlp, labels=["mass", "cyst", "oedema"])
    assert pipe.labels == ("mass", "cyst", "oedema")
    assert set(nlp("No mass.")._.labels) == {"mass", "cyst", "oedema"}


def test_four_states_and_class_weights(reports):
    absent = [
        {
            **r,
            "labels": {
                k: ("absent" if v == "negative" and k == "mass" else v)
                for k, v in r["labels"].items()
            },
        }
        for r in reports
    ]
    nlp = train_blank(
        absent,
        n_iter=5,
        states=["positive", "uncertain", "negative", "absent"],
        class_weights={"uncertain": 2.0},
    )
    doc = nlp("No mass.")
    assert set(doc._.label_scores["mass"]) == {"positive", "uncertain", "negative", "absent"}


def test_states_from_initialize_replace_the_factory_setting(tmp_path):
    """A schema's states given at initialize (as the configs do) train without a config edit."""
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("radlabels")
    ref = nlp.make_doc("No mass.")
    ref._.labels = {"mass": "absent"}
    examples = [Example(nlp.make_doc("No mass."), ref)]
    four = ["positive", "uncertain", "negative", "absent"]
    with pytest.raises(GoldError, match="absent"):
        nlp.initialize(lambda: examples)
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("radlabels")
    nlp.config["initialize"]["components"]["radlabels"] = {"states": four}
    nlp.initialize(lambda: examples)
    nlp.update(examples)
    assert pipe.states == tuple(four)
    nlp.to_disk(tmp_path)
    loaded = spacy.load(tmp_path)
    assert loaded.get_pipe("radlabels").states == tuple(four)
    assert set(loaded("No mass.")._.label_scores["mass"]) == set(four)
    with pytest.raises(ValueError, match="cannot be resized"):
        pipe.initialize(lambda: examples, states=["positive", "negative", "absent"])
    with pytest.raises(ValueError, match="two or more distinct states"):
        nlp.add_pipe("radlabels", name="other").initialize(lambda: examples, states=["absent"])


def test_hierarchy_raises_parent(reports):
    nlp = train_blank(reports, n_iter=40, hierarchy={"infarct": "haemorrhage"})
    doc = nlp("There is an acute infarct. No haemorrhage.")
    assert doc._.labels["infarct"] == "positive"
    assert doc._.labels["haemorrhage"] == "positive"
    doc = nlp("Possible infarct. No haemorrhage.")
    assert doc._.labels["infarct"] == "uncertain"
    assert doc._.labels["haemorrhage"] == "uncertain"


def test_hierarchy_with_unknown_label_is_an_error(reports):
    with pytest.raises(ValueError, match="'stroke'"):
        train_blank(reports, n_iter=1, hierarchy={"infarct": "stroke"})


LISTENER_CONFIG = {
    "model": {
        "@architectures": "spacy-radlabels.PerLabelAttention.v1",
        "tok2vec": {
            "@architectures": "spacy.Tok2VecListener.v1",
            "width": 96,
            "upstream": "tok2vec",
        },
    }
}


def test_listener_before_its_tok2vec_is_an_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("radlabels", config=LISTENER_CONFIG)
    nlp.add_pipe("tok2vec")
    ref = nlp.make_doc("No mass.")
    ref._.labels = {"mass": "negative"}
    with pytest.raises(ValueError, match="before it in the pipeline"):
        nlp.initialize(lambda: [Example(nlp.make_doc("No mass."), ref)])


def test_listener_finds_a_frozen_or_sourced_tok2vec():
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    nlp.add_pipe("radlabels", config=LISTENER_CONFIG)
    ref = nlp.make_doc("No mass.")
    ref._.labels = {"mass": "negative"}
    nlp.initialize(lambda: [Example(nlp.make_doc("No mass."), ref)])
    # `spacy train` initializes with frozen and sourced components disabled.
    with nlp.select_pipes(disable=["tok2vec"]):
        nlp.get_pipe("radlabels").initialize(
            lambda: [Example(nlp.make_doc("No mass."), ref)], nlp=nlp
        )
    assert set(nlp("No mass.")._.labels) == {"mass"}
