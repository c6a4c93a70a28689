"""The per-label attention layer's backward pass matches finite differences."""

import numpy
import pytest
from thinc.api import NumpyOps
from thinc.types import Ragged

from spacy_radlabels.attention import PerLabelAttentionLayer

from .conftest import finite_differences

N_LABELS, N_STATES, WIDTH = 3, 3, 5
LENGTHS = [4, 0, 1, 3]  # includes an empty doc and a one-token doc


def _loss(layer, X, gold):
    (P, _), _ = layer(Ragged(X, numpy.asarray(LENGTHS, dtype="i")), is_train=False)
    return -(gold * numpy.log(P)).sum(dtype="float64")


def _random_layer(rng, hidden: int, null: bool, X, lengths):
    layer = PerLabelAttentionLayer(nL=N_LABELS, nS=N_STATES, nH=hidden, null=null)
    layer.initialize(X=Ragged(X, lengths))
    for name in layer.param_names:  # non-trivial values everywhere, biases included
        layer.set_param(name, rng.normal(size=layer.get_param(name).shape).astype("f"))
    return layer


@pytest.mark.parametrize("null", [False, True])
@pytest.mark.parametrize("hidden", [0, 4])
def test_backprop_matches_finite_differences(hidden, null):
    ops = NumpyOps()
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(sum(LENGTHS), WIDTH)).astype("f")
    lengths = numpy.asarray(LENGTHS, dtype="i")
    layer = _random_layer(rng, hidden, null, X, lengths)
    assert ("null_score" in layer.param_names) == null
    gold = numpy.eye(N_STATES, dtype="f")[rng.integers(0, N_STATES, (len(LENGTHS), N_LABELS))]

    (P, _), backprop = layer(Ragged(X, lengths), is_train=True)
    dX = backprop(ops.asarray3f(P - gold)).dataXd  # cross-entropy gradient wrt logits

    def numeric(array):
        return finite_differences(lambda: _loss(layer, X, gold), array)

    numpy.testing.assert_allclose(dX, numeric(X), rtol=2e-2, atol=2e-3)
    for name in layer.param_names:
        param = layer.get_param(name)
        expected = numeric(param)
        numpy.testing.assert_allclose(layer.get_grad(name), expected, rtol=2e-2, atol=2e-3)


@pytest.mark.parametrize("lengths", [[0, 0], [0, 6, 0, 1], [50, 2]])
def test_null_weights_and_empty_docs(lengths):
    """Token and null weights sum to 1; an empty doc pools the null value alone."""
    rng = numpy.random.default_rng(1)
    lengths = numpy.asarray(lengths, dtype="i")
    X = rng.normal(size=(int(lengths.sum()), WIDTH)).astype("f")
    sample = rng.normal(size=(3, WIDTH)).astype("f")
    layer = _random_layer(rng, 4, True, sample, numpy.asarray([3], dtype="i"))
    (P, alpha), backprop = layer(Ragged(X, lengths), is_train=True)
    assert numpy.isfinite(P).all() and numpy.isfinite(alpha.dataXd).all()
    starts = numpy.cumsum([0, *lengths.tolist()])
    Wo, bo, null_value = (layer.get_param(name) for name in ("Wo", "bo", "null_value"))
    null_logits = numpy.einsum("lw,lsw->ls", null_value, Wo) + bo
    null_probs = numpy.exp(null_logits) / numpy.exp(null_logits).sum(axis=-1, keepdims=True)
    for d, (start, end) in enumerate(zip(starts[:-1], starts[1:])):
        token_weight = alpha.dataXd[start:end].sum(axis=0)
        assert ((token_weight > 0) & (token_weight < 1)).all() or end == start
        if end == start:
            numpy.testing.assert_allclose(P[d], null_probs, rtol=1e-5)
    dX = backprop(numpy.ones_like(P)).dataXd
    assert dX.shape == X.shape and numpy.isfinite(dX).all()
    for name in layer.param_names:
        assert numpy.isfinite(layer.get_grad(name)).all(), name


def test_null_takes_the_weight_its_score_gives_it():
    """A high null score draws the attention away from every token."""
    rng = numpy.random.default_rng(2)
    X = rng.normal(size=(6, WIDTH)).astype("f")
    lengths = numpy.asarray([6], dtype="i")
    layer = _random_layer(rng, 0, True, X, lengths)
    layer.set_param("null_score", numpy.full(N_LABELS, 50.0, dtype="f"))
    (_, alpha), _ = layer(Ragged(X, lengths), is_train=False)
    assert alpha.dataXd.sum(axis=0).max() < 1e-6
