"""The per-label attention layer's backward pass matches finite differences."""

import numpy
import pytest
from thinc.api import NumpyOps
from thinc.types import Ragged

from spacy_radlabels.attention import PerLabelAttentionLayer

N_LABELS, N_STATES, WIDTH = 3, 3, 5
LENGTHS = [4, 0, 1, 3]  # includes an empty doc and a one-token doc


def _loss(layer, X, gold):
    (P, _), _ = layer(Ragged(X, numpy.asarray(LENGTHS, dtype="i")), is_train=False)
    return -(gold * numpy.log(P)).sum(dtype="float64")


@pytest.mark.parametrize("hidden", [0, 4])
def test_backprop_matches_finite_differences(hidden):
    ops = NumpyOps()
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(sum(LENGTHS), WIDTH)).astype("f")
    lengths = numpy.asarray(LENGTHS, dtype="i")
    layer = PerLabelAttentionLayer(nL=N_LABELS, nS=N_STATES, nH=hidden)
    layer.initialize(X=Ragged(X, lengths))
    for name in layer.param_names:  # non-trivial values everywhere, biases included
        layer.set_param(name, rng.normal(size=layer.get_param(name).shape).astype("f"))
    gold = numpy.eye(N_STATES, dtype="f")[rng.integers(0, N_STATES, (len(LENGTHS), N_LABELS))]

    (P, _), backprop = layer(Ragged(X, lengths), is_train=True)
    dX = backprop(ops.asarray3f(P - gold)).dataXd  # cross-entropy gradient wrt logits

    eps = 1e-3

    def numeric(array):
        grad = numpy.zeros(array.shape)
        for index in numpy.ndindex(array.shape):
            original = array[index]
            array[index] = original + eps
            up = _loss(layer, X, gold)
            array[index] = original - eps
            down = _loss(layer, X, gold)
            array[index] = original
            grad[index] = (up - down) / (2 * eps)
        return grad

    numpy.testing.assert_allclose(dX, numeric(X), rtol=2e-2, atol=2e-3)
    for name in layer.param_names:
        param = layer.get_param(name)
        expected = numeric(param)
        numpy.testing.assert_allclose(layer.get_grad(name), expected, rtol=2e-2, atol=2e-3)
