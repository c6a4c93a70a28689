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

from typing import Callable, Optional, Tuple

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
    n_docs = lengths.shape[0]
    Q, Wo, bo = model.get_param("Q"), model.get_param("Wo"), model.get_param("bo")
    nH = model.get_dim("nH")
    if nH:
        W, b = model.get_param("W"), model.get_param("b")
        Z = ops.xp.tanh(ops.gemm(X, W, trans2=True) + b)
    else:
        Z = X
    alpha = _softmax_per_doc(ops, ops.gemm(Z, Q, trans2=True), lengths)
    V = _pool(ops, alpha, X, lengths, n_docs)
    logits = xp.einsum("dlw,lsw->dls", V, Wo) + bo
    P = ops.softmax(logits, axis=-1)

    def backprop(d_logits: Floats3d) -> InT:
        model.inc_grad("Wo", xp.einsum("dls,dlw->lsw", d_logits, V))
        model.inc_grad("bo", d_logits.sum(axis=0))
        dV = xp.einsum("dls,lsw->dlw", d_logits, Wo)
        dX, d_alpha = _backprop_pool(ops, dV, alpha, X, lengths)
        dA = _backprop_softmax_per_doc(ops, d_alpha, alpha, lengths)
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


def _nonempty(lengths: Ints1d) -> Ints1d:
    # Empty docs own no rows, so dropping their zero lengths keeps rows aligned.
    return lengths[lengths > 0]


def _softmax_per_doc(ops, A: Floats2d, lengths: Ints1d) -> Floats2d:
    """Softmax each column of A over each doc's rows, stable for any doc length."""
    if A.shape[0] == 0:
        return A
    lens = _nonempty(lengths)
    maxes, _ = ops.reduce_max(A, lens)
    E = ops.xp.exp(A - ops.backprop_reduce_sum(maxes, lens))
    return E / ops.backprop_reduce_sum(ops.reduce_sum(E, lens), lens)


def _backprop_softmax_per_doc(ops, d_alpha: Floats2d, alpha: Floats2d, lengths: Ints1d):
    if alpha.shape[0] == 0:
        return d_alpha
    lens = _nonempty(lengths)
    weighted = ops.reduce_sum(alpha * d_alpha, lens)
    return alpha * (d_alpha - ops.backprop_reduce_sum(weighted, lens))


def _pool(ops, alpha: Floats2d, X: Floats2d, lengths: Ints1d, n_docs: int) -> Floats3d:
    """Sum each doc's token vectors weighted by each label's attention: V[d] = alpha_d^T X_d."""
    V = ops.alloc3f(n_docs, alpha.shape[1], X.shape[1])
    start = 0
    for d, length in enumerate(ops.to_numpy(lengths).tolist()):
        if length:
            V[d] = ops.gemm(alpha[start : start + length], X[start : start + length], trans1=True)
        start += length
    return V


def _backprop_pool(ops, dV: Floats3d, alpha: Floats2d, X: Floats2d, lengths: Ints1d):
    dX = ops.alloc2f(*X.shape)
    d_alpha = ops.alloc2f(*alpha.shape)
    start = 0
    for d, length in enumerate(ops.to_numpy(lengths).tolist()):
        if length:
            end = start + length
            dX[start:end] = ops.gemm(alpha[start:end], dV[d])
            d_alpha[start:end] = ops.gemm(X[start:end], dV[d], trans2=True)
        start += length
    return dX, d_alpha
