"""The label interaction layer (Thinc): one label's state may depend on the others'.

Per-label attention decides each label on its own. Some schemas tie labels together: a
coder leaves a symptom uncoded when a diagnosis explains it, and CheXpert's No Finding is
positive only when no finding is. This layer takes the attention layer's state
probabilities P (n_docs x nL x nS) and adds to each label's logits a learned linear term
in the other labels' probabilities:

    S[d, l, s] = sum_{k != l, t} M[l, s, k, t] P[d, k, t]
    P'[d, l] = softmax over the states of (log P[d, l] + S[d, l])

M starts at zero, so an untrained layer passes P through unchanged, and a label never
reads its own state (the diagonal blocks of M are masked). Backprop takes the loss
gradient with respect to the output logits, as the attention layer's does, and returns
the gradient with respect to the attention layer's logits (log P equals them up to a
per-label constant, which softmax ignores).
"""

from typing import Callable, Optional, Tuple

from thinc.api import Model
from thinc.types import Floats3d, Floats4d, Ragged

InOutT = Tuple[Floats3d, Ragged]
# log P of a state whose probability underflowed stays finite.
MIN_PROB = 1e-30


def LabelInteractionLayer(
    nL: Optional[int] = None, nS: Optional[int] = None
) -> Model[InOutT, InOutT]:
    """Create the label interaction layer over per-label state probabilities.

    nL (Optional[int]): Number of labels; set by the component at initialization.
    nS (Optional[int]): Number of states per label.
    RETURNS (Model[Tuple[Floats3d, Ragged], Tuple[Floats3d, Ragged]]): The probabilities
        with each label's logits shifted by the other labels' states; the attention
        weights pass through.
    """
    return Model(
        "label_interaction", forward, init=init, params={"M": None}, dims={"nL": nL, "nS": nS}
    )


def init(model: Model[InOutT, InOutT], X: Optional[InOutT] = None, Y=None) -> None:
    """Start with no interaction: M = 0."""
    nL, nS = model.get_dim("nL"), model.get_dim("nS")
    model.set_param("M", model.ops.alloc4f(nL, nS, nL, nS))


def _off_diagonal(model: Model[InOutT, InOutT], array: Floats4d) -> Floats4d:
    """Zero each label's own block of M (or of its gradient, so the block stays zero)."""
    eye = model.ops.xp.eye(model.get_dim("nL"), dtype=array.dtype)
    return array * (1 - eye)[:, None, :, None]


def forward(
    model: Model[InOutT, InOutT], inputs: InOutT, is_train: bool
) -> Tuple[InOutT, Callable[[Floats3d], Floats3d]]:
    ops = model.ops
    xp = ops.xp
    P, alpha = inputs
    M = _off_diagonal(model, model.get_param("M"))
    logits = xp.log(xp.maximum(P, MIN_PROB)) + xp.einsum("dkt,lskt->dls", P, M)
    P_out = ops.softmax(logits, axis=-1)

    def backprop(d_logits: Floats3d) -> Floats3d:
        model.inc_grad("M", _off_diagonal(model, xp.einsum("dls,dkt->lskt", d_logits, P)))
        dP = xp.einsum("dls,lskt->dkt", d_logits, M)
        # log-softmax's Jacobian for the log P term, softmax's for the P inside S.
        d_in = d_logits - P * d_logits.sum(axis=-1, keepdims=True)
        d_in += P * (dP - (P * dP).sum(axis=-1, keepdims=True))
        return d_in

    return (P_out, alpha), backprop
