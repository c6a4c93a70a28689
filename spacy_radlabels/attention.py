"""The per-label attention layer (Thinc): the maths of the model in one place.

For a batch of docs given as one Ragged of token vectors X (n_tokens x nI):

    Z = tanh(X W^T + b)                 optional projection (n_tokens x nH)
    A = Z Q^T                           one learned query row per label (n_tokens x nL)
    alpha = softmax of A over each doc's tokens, per label
    V[d, l] = sum_t alpha[t, l] X[t]    label-specific doc vectors (n_docs x nL x nI)
    logits[d, l] = Wo[l] V[d, l] + bo[l]  per-label output over the states (nS)
    P = softmax of logits over the states

With `null=True` (architecture v2) each label can also attend to a learned null position,
its "no evidence" option: a score s[l] joins the doc's token scores in the softmax and a
value vector n[l] (width nI) is pooled with the null weight alpha_null:

    alpha, alpha_null = softmax of (A[doc tokens, l], s[l]) per doc and label
    V[d, l] = alpha_null[d, l] n[l] + sum_t alpha[t, l] X[t]

A null key compared with the query would give the doc-independent scalar Q[l] . k[l], so
one learned score per label is the same model. A doc with nothing that concerns a label
can pool n[l] instead of unrelated tokens, and an empty doc gets V = n[l] (v1: V = 0).
The token weights then sum to 1 - alpha_null, not to 1.

The layer outputs (P, alpha): P is (n_docs x nL x nS) and alpha a Ragged (n_tokens x nL)
with the doc lengths, so the component gets evidence without a second pass. Backprop
takes the loss gradient with respect to the logits (P - gold for cross-entropy), as
Thinc's Softmax does.
"""

from typing import Callable, List, Optional, Tuple

import numpy
from thinc.api import Model, glorot_uniform_init, normal_init
from thinc.types import Floats1d, Floats2d, Floats3d, Ints1d, Ragged
from thinc.util import get_width

InT = Ragged
OutT = Tuple[Floats3d, Ragged]


def PerLabelAttentionLayer(
    nL: Optional[int] = None,
    nS: Optional[int] = None,
    nH: int = 0,
    nI: Optional[int] = None,
    null: bool = False,
) -> Model[InT, OutT]:
    """Create the per-label attention layer over a Ragged batch of token vectors.

    nL (Optional[int]): Number of labels; set by the component at initialization.
    nS (Optional[int]): Number of states per label.
    nH (int): Width of the tanh projection before the label queries; 0 uses the token
        vectors directly.
    nI (Optional[int]): Width of the token vectors; inferred at initialization.
    null (bool): Give each label a learned null position to attend to (v2).
    RETURNS (Model[Ragged, Tuple[Floats3d, Ragged]]): State probabilities per doc and label,
        and the attention weights per token and label.
    """
    params = {"Q": None, "Wo": None, "bo": None}
    if nH:
        params.update({"W": None, "b": None})
    if null:
        params.update({"null_score": None, "null_value": None})
    return Model(
        "per_label_attention",
        forward,
        init=init,
        params=params,
        dims={"nL": nL, "nS": nS, "nH": nH, "nI": nI},
        attrs={"null": null},
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
    if model.attrs["null"]:
        # Score 0 starts the null as one more near-uniform position, pooling a zero vector.
        model.set_param("null_score", ops.alloc1f(nL))
        model.set_param("null_value", ops.alloc2f(nL, nI))


def forward(model: Model[InT, OutT], Xr: InT, is_train: bool) -> Tuple[OutT, Callable]:
    ops = model.ops
    xp = ops.xp
    X = Xr.dataXd
    lengths = Xr.lengths
    Q, Wo, bo = model.get_param("Q"), model.get_param("Wo"), model.get_param("bo")
    nH = model.get_dim("nH")
    null = model.attrs["null"]
    s = model.get_param("null_score") if null else None
    n = model.get_param("null_value") if null else None
    if nH:
        W, b = model.get_param("W"), model.get_param("b")
        Z = ops.xp.tanh(ops.gemm(X, W, trans2=True) + b)
    else:
        Z = X
    docs = _doc_slices(ops.to_numpy(lengths))
    alpha, alpha_null, V = _attend(ops, ops.gemm(Z, Q, trans2=True), X, docs, s, n)
    logits = xp.einsum("dlw,lsw->dls", V, Wo) + bo
    P = ops.softmax(logits, axis=-1)

    def backprop(d_logits: Floats3d) -> InT:
        model.inc_grad("Wo", xp.einsum("dls,dlw->lsw", d_logits, V))
        model.inc_grad("bo", d_logits.sum(axis=0))
        dV = xp.einsum("dls,lsw->dlw", d_logits, Wo)
        dX, dA, d_s, d_n = _backprop_attend(ops, dV, alpha, X, docs, alpha_null, n)
        if null:
            model.inc_grad("null_score", d_s)
            model.inc_grad("null_value", d_n)
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


def _attend(
    ops,
    A: Floats2d,
    X: Floats2d,
    docs: List[slice],
    null_score: Optional[Floats1d] = None,
    null_value: Optional[Floats2d] = None,
) -> Tuple[Floats2d, Floats2d, Floats3d]:
    """Softmax each label's scores over each doc's tokens and pool the token vectors.

    null_score (Optional[Floats1d]): Per-label score of the null position, or None (v1).
    null_value (Optional[Floats2d]): Per-label null vector (nL x nI), or None (v1).
    RETURNS (Tuple[Floats2d, Floats2d, Floats3d]): alpha (n_tokens x nL), the null weights
        alpha_null (n_docs x nL; zero without null) and V (n_docs x nL x nI); without a
        null an empty doc gets V = 0.
    """
    alpha = ops.alloc2f(*A.shape)
    alpha_null = ops.alloc2f(len(docs), A.shape[1])
    V = ops.alloc3f(len(docs), A.shape[1], X.shape[1])
    for d, rows in enumerate(docs):
        scores = A[rows] if null_score is None else ops.xp.vstack((A[rows], null_score[None]))
        if scores.shape[0]:
            # Per-doc max and a float64 sum keep long docs overflow-free and normalised.
            E = ops.xp.exp(scores - scores.max(axis=0))
            weights = E / E.sum(axis=0, dtype="float64")
            alpha[rows] = weights[: rows.stop - rows.start]
            V[d] = ops.gemm(alpha[rows], X[rows], trans1=True)
            if null_score is not None:
                alpha_null[d] = weights[-1]
    if null_value is not None:
        V += alpha_null[:, :, None] * null_value
    return alpha, alpha_null, V


def _backprop_attend(
    ops,
    dV: Floats3d,
    alpha: Floats2d,
    X: Floats2d,
    docs: List[slice],
    alpha_null: Floats2d,
    null_value: Optional[Floats2d] = None,
) -> Tuple[Floats2d, Floats2d, Optional[Floats1d], Optional[Floats2d]]:
    """Gradients of `_attend` with respect to X, the attention scores A and the null.

    RETURNS (Tuple): dX, dA, and the gradients of the null score and null value (None
        without a null).
    """
    dX = ops.alloc2f(*X.shape)
    dA = ops.alloc2f(*alpha.shape)
    # The softmax Jacobian subtracts, per doc and label, sum_j weight_j d_weight_j over
    # the doc's tokens and its null position; start it with the null's term.
    if null_value is not None:
        d_alpha_null = (dV * null_value).sum(axis=-1)
        total = alpha_null * d_alpha_null
    else:
        total = ops.alloc2f(*alpha_null.shape)
    for d, rows in enumerate(docs):
        if rows.stop > rows.start:
            dX[rows] = ops.gemm(alpha[rows], dV[d])
            d_alpha = ops.gemm(X[rows], dV[d], trans2=True)
            total[d] += (alpha[rows] * d_alpha).sum(axis=0)
            dA[rows] = alpha[rows] * (d_alpha - total[d])
    if null_value is None:
        return dX, dA, None, None
    d_null_score = (alpha_null * (d_alpha_null - total)).sum(axis=0)
    d_null_value = ops.xp.einsum("dl,dlw->lw", alpha_null, dV)
    return dX, dA, d_null_score, d_null_value
