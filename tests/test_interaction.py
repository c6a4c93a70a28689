"""The label interaction layer: identity at start, exact gradients, no self-interaction."""

import numpy
from thinc.api import NumpyOps, chain
from thinc.types import Ragged

from spacy_radlabels.attention import PerLabelAttentionLayer
from spacy_radlabels.interaction import LabelInteractionLayer

from .conftest import finite_differences

N_LABELS, N_STATES, WIDTH = 3, 3, 5
LENGTHS = numpy.asarray([4, 0, 1, 3], dtype="i")


def _model(rng):
    """Attention then interaction, every parameter random (M's diagonal blocks too)."""
    X = rng.normal(size=(int(LENGTHS.sum()), WIDTH)).astype("f")
    attention = PerLabelAttentionLayer(nL=N_LABELS, nS=N_STATES, nH=4)
    interaction = LabelInteractionLayer(nL=N_LABELS, nS=N_STATES)
    model = chain(attention, interaction)
    model.initialize(X=Ragged(X, LENGTHS))
    for layer in (attention, interaction):
        for name in layer.param_names:
            layer.set_param(name, rng.normal(size=layer.get_param(name).shape).astype("f"))
    return model, attention, interaction, X


def test_untrained_layer_passes_probabilities_through():
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(int(LENGTHS.sum()), WIDTH)).astype("f")
    attention = PerLabelAttentionLayer(nL=N_LABELS, nS=N_STATES, nH=4)
    attention.initialize(X=Ragged(X, LENGTHS))
    interaction = LabelInteractionLayer(nL=N_LABELS, nS=N_STATES)
    interaction.initialize()
    (P, alpha), _ = attention(Ragged(X, LENGTHS), is_train=False)
    (P_out, alpha_out), _ = interaction((P, alpha), is_train=False)
    numpy.testing.assert_allclose(P_out, P, rtol=1e-5, atol=1e-7)
    assert alpha_out is alpha


def test_a_label_does_not_read_its_own_state():
    """Only the other labels' probabilities move a label's output."""
    rng = numpy.random.default_rng(1)
    _, attention, interaction, X = _model(rng)
    (P, alpha), _ = attention(Ragged(X, LENGTHS), is_train=False)
    (base, _), _ = interaction((P, alpha), is_train=False)
    changed = P.copy()
    changed[:, 0] = numpy.roll(changed[:, 0], 1, axis=-1)
    (moved, _), _ = interaction((changed, alpha), is_train=False)

    def shift(out, inp):
        """The term the layer added to the logits, up to softmax's constant per label."""
        log_ratio = numpy.log(out) - numpy.log(inp)
        return log_ratio - log_ratio.mean(axis=-1, keepdims=True)

    # Label 0's own term is unchanged; the other labels' terms move with label 0's state.
    numpy.testing.assert_allclose(shift(moved, changed)[:, 0], shift(base, P)[:, 0], atol=1e-4)
    assert not numpy.allclose(shift(moved, changed)[:, 1:], shift(base, P)[:, 1:], atol=1e-3)


def test_backprop_matches_finite_differences():
    ops = NumpyOps()
    rng = numpy.random.default_rng(2)
    model, _, interaction, X = _model(rng)
    gold = numpy.eye(N_STATES, dtype="f")[rng.integers(0, N_STATES, (len(LENGTHS), N_LABELS))]

    def loss():
        (P, _), _ = model(Ragged(X, LENGTHS), is_train=False)
        return -(gold * numpy.log(P)).sum(dtype="float64")

    (P, _), backprop = model(Ragged(X, LENGTHS), is_train=True)
    dX = backprop(ops.asarray3f(P - gold)).dataXd  # cross-entropy gradient wrt logits

    def numeric(array):
        return finite_differences(loss, array)

    numpy.testing.assert_allclose(dX, numeric(X), rtol=2e-2, atol=2e-3)
    for layer in model.layers:
        for name in layer.param_names:
            expected = numeric(layer.get_param(name))
            numpy.testing.assert_allclose(layer.get_grad(name), expected, rtol=2e-2, atol=2e-3)
    # The masked diagonal blocks get no gradient, so training never moves them.
    dM = interaction.get_grad("M")
    assert all(not dM[label, :, label].any() for label in range(N_LABELS))
