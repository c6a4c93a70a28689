"""The per-label attention layer (Thinc): the maths of the model in one place.

For a batch of docs given as one Ragged of token vectors X (n_tokens x nI):

    Z = tanh(X W^T + b)                 optional projection (n_tokens x nH)
    A = Z Q^T                           one learned query row per label (n_tokens x nL)
    alpha = softmax of A over each doc's tokens, per label
    V[d, l] = sum_t alpha[t, l] X[t]    label-specific doc vectors (n_docs x nL x nI)
    logits[d, l] = Wo[l] V[d, l] + bo[l]  per-label output over the states (nS)
    P = softmax of logits over the states

The layer outputs (P, alpha): P is (n_docs x nL x nS) and alpha a Ragged (n_tokens x nL)
with the doc lengths, so the component gets evidence without a second pass. Backprop
takes the loss gradient with respect to the logits (P - gold for cross-entropy), as
Thinc's Softmax does.
"""

from typing import Callable, List, Optional, Tuple

import numpy
from thinc.api import Model, glorot_uniform_init, normal_init
from thinc.types import Floats2d, Floats3d, Ints1d, Ragged
from thinc.util import get_width

InT = Ragged
OutT = Tuple[Floats3d, Ragged]


def PerLabelAttentionLayer(
    nL: Optional[int] = None,
    nS: Optional[int] = None,
    nH: int = 0,
    nI: Optional[int] = None,
) -> Model[InT, OutT]:
    """Create the per-label attention layer over a Ragged batch of token vectors.

    nL (Optional[int]): Number of labels; set by the component at initialization.
    nS (Optional[int]): Number of states per label.
    nH (int): Width of the tanh projection before the label queries; 0 uses the token
        vectors directly.
    nI (Optional[int]): Width of the token vectors; inferred at initialization.
    RETURNS (Model[Ragged, Tuple[Floats3d, Ragged]]): State probabilities per doc and label,
        and the attention weights per token and label.
    """
    params = {"Q": None, "Wo": None, "bo": None}
    if nH:
        params.update({"W": None, "b": None})
    return Model(
        "per_label_attention",
        forward,
        init=init,
        params=params,
        dims={"nL": nL, "nS": nS, "nH": nH, "nI": nI},
    )


def init(model: Model[InT, OutT], X: Optional[InT] = None, Y=None) -> None:
    """Infer the input width lazily and draw the initial weights."""
    if X is not None and X.dataXd.size:
        model.set_dim("nI", get_width(X))
    nI, nL, nS, nH = (model.get_dim(name) for name in ("nI", "nL", "nS", "nH"))
    ops = model.ops
    nQ = nH or nI
    if nH:
        model.set_param("W", glorot_uniform_init(ops, (nH, nI)))
        model.set_param("b", ops.alloc1f(nH))
    # Small queries start the attention near uniform (mean pooling).
    model.set_param("Q", normal_init(ops, (nL, nQ)))
    model.set_param("Wo", glorot_uniform_init(ops, (nL, nS, nI)))
    model.set_param("bo", ops.alloc2f(nL, nS))


def forward(model: Model[InT, OutT], Xr: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    xp = ops.xp
    X = Xr.dataXd
    lengths = Xr.lengths
    Q, Wo, bo = model.get_param("Q"), model.get_param("Wo"), model.get_param("bo")
    nH = model.get_dim("nH")
    if nH:
        W, b = model.get_param("W"), model.get_param("b")
        Z = ops.xp.tanh(ops.gemm(X, W, trans2=True) + b)
    else:
        Z = X
    docs = _doc_slices(ops.to_numpy(lengths))
    alpha, V = _attend(ops, ops.gemm(Z, Q, trans2=True), X, docs)
    logits = xp.einsum("dlw,lsw->dls", V, Wo) + bo
    P = ops.softmax(logits, axis=-1)

    def backprop(d_logits: Floats3d) -> InT:
        model.inc_grad("Wo", xp.einsum("dls,dlw->lsw", d_logits, V))
        model.inc_grad("bo", d_logits.sum(axis=0))
        dV = xp.einsum("dls,lsw->dlw", d_logits, Wo)
        dX, dA = _backprop_attend(ops, dV, alpha, X, docs)
        model.inc_grad("Q", ops.gemm(dA, Z, trans1=True))
        dZ = ops.gemm(dA, Q)
        if nH:
            d_pre = dZ * (1 - Z**2)
            model.inc_grad("W", ops.gemm(d_pre, X, trans1=True))
            model.inc_grad("b", d_pre.sum(axis=0))
            dX += ops.gemm(d_pre, W)
        else:
            dX += dZ
        return Ragged(dX, lengths)

    return (P, Ragged(alpha, lengths)), backprop


def _doc_slices(lengths: Ints1d) -> List[slice]:
    """Row slice of each doc in the ragged batch."""
    starts = numpy.cumsum([0] + lengths.tolist())
    return [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]


def _attend(ops, A: Floats2d, X: Floats2d, docs: List[slice]) -> Tuple[Floats2d, Floats3d]:
    """Softmax each label's scores over each doc's tokens and pool the token vectors.

    RETURNS (Tuple[Floats2d, Floats3d]): alpha (n_tokens x nL) and V (n_docs x nL x nI);
        an empty doc gets V = 0.
    """
    alpha = ops.alloc2f(*A.shape)
    V = ops.alloc3f(len(docs), A.shape[1], X.shape[1])
    for d, rows in enumerate(docs):
        if rows.stop > rows.start:
            # Per-doc max and a float64 sum keep long docs overflow-free and normalised.
            E = ops.xp.exp(A[rows] - A[rows].max(axis=0))
            alpha[rows] = E / E.sum(axis=0, dtype="float64")
            V[d] = ops.gemm(alpha[rows], X[rows], trans1=True)
    return alpha, V


def _backprop_attend(ops, dV: Floats3d, alpha: Floats2d, X: Floats2d, docs: List[slice]):
    """Gradients of `_attend` with respect to X and to the attention scores A."""
    dX = ops.alloc2f(*X.shape)
    dA = ops.alloc2f(*alpha.shape)
    for d, rows in enumerate(docs):
        if rows.stop > rows.start:
            dX[rows] = ops.gemm(alpha[rows], dV[d])
            d_alpha = ops.gemm(X[rows], dV[d], trans2=True)
            dA[rows] = alpha[rows] * (d_alpha - (alpha[rows] * d_alpha).sum(axis=0))
    return dX, dA
