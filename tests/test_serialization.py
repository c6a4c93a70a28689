"""Saving, loading, pickling and multiprocessing give the same predictions."""

import pickle

import numpy
import pytest
import spacy

from spacy_radlabels.component import DEFAULT_RADLABELS_MODEL

from .conftest import train_blank

TEXTS = ["There is an acute haemorrhage. No mass.", "Possible infarct.", "", "No evidence of mass."]


def _scores(nlp):
    return [doc._.label_scores for doc in nlp.pipe(TEXTS)]


def _assert_same(a, b):
    for doc_a, doc_b in zip(a, b, strict=True):
        for label in doc_a:
            numpy.testing.assert_allclose(
                list(doc_a[label].values()), list(doc_b[label].values()), rtol=1e-6
            )


def test_disk_round_trip(trained_nlp, trained_pipeline):
    _assert_same(_scores(trained_nlp), _scores(spacy.load(trained_pipeline)))


def test_bytes_round_trip(trained_nlp):
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("radlabels")
    pipe = nlp2.get_pipe("radlabels")
    pipe.from_bytes(trained_nlp.get_pipe("radlabels").to_bytes())
    assert pipe.labels == trained_nlp.get_pipe("radlabels").labels
    _assert_same(_scores(trained_nlp), _scores(nlp2))


def test_pickle(trained_nlp):
    _assert_same(_scores(trained_nlp), _scores(pickle.loads(pickle.dumps(trained_nlp))))


def test_two_processes_match_one(trained_pipeline):
    nlp = spacy.load(trained_pipeline)
    texts = TEXTS * 10
    one = [(d.text, d._.labels, d._.label_scores) for d in nlp.pipe(texts, batch_size=4)]
    two = [
        (d.text, d._.labels, d._.label_scores) for d in nlp.pipe(texts, batch_size=4, n_process=2)
    ]
    assert [t for t, _, _ in two] == texts
    assert [labels for _, labels, _ in one] == [labels for _, labels, _ in two]
    _assert_same([s for _, _, s in one], [s for _, _, s in two])


@pytest.mark.parametrize(
    "version,layer,params",
    [
        ("v2", "output_layer", {"null_score", "null_value"}),
        ("v3", "label_interaction", {"M"}),
    ],
)
def test_attention_versions_train_save_and_load(tmp_path, reports, version, layer, params):
    """Pipelines built with PerLabelAttention.v2 (null position) and v3 (label interaction)
    learn, and round-trip through disk."""
    architecture = f"spacy-radlabels.PerLabelAttention.{version}"
    nlp = train_blank(reports, model={**DEFAULT_RADLABELS_MODEL, "@architectures": architecture})
    for doc, report in zip(nlp.pipe(r["text"] for r in reports), reports):
        assert doc._.labels == report["labels"], doc.text
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert params <= set(loaded.get_pipe("radlabels").model.get_ref(layer).param_names)
    _assert_same(_scores(nlp), _scores(loaded))
