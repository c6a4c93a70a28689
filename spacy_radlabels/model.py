"""The architectures `spacy-radlabels.PerLabelAttention.v1`, `.v2` and `.v3`."""

from typing import List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, chain, list2ragged
from thinc.types import Floats2d, Floats3d, Ragged

from .attention import PerLabelAttentionLayer
from .interaction import LabelInteractionLayer


@registry.architectures("spacy-radlabels.PerLabelAttention.v1")
def build_per_label_attention(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_size: int = 64,
    nL: Optional[int] = None,
    nO: Optional[int] = None,
) -> Model[List[Doc], Tuple[Floats3d, Ragged]]:
    """Build a model that reads every label's state through its own attention over tokens.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors: an inline tok2vec, a
        Tok2VecListener or a TransformerListener. Its width is read at initialization.
    hidden_size (int): Width of the tanh projection the label queries attend over; 0 attends
        over the token vectors directly.
    nL (Optional[int]): Number of labels; the component sets it from its labels.
    nO (Optional[int]): Number of states per label; the component sets it from its states.
    RETURNS (Model[List[Doc], Tuple[Floats3d, Ragged]]): State probabilities
        (n_docs x n_labels x n_states) and attention weights (n_tokens x n_labels, ragged
        by doc).
    """
    return _build(tok2vec, hidden_size, nL, nO, null=False)


@registry.architectures("spacy-radlabels.PerLabelAttention.v2")
def build_per_label_attention_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_size: int = 64,
    nL: Optional[int] = None,
    nO: Optional[int] = None,
) -> Model[List[Doc], Tuple[Floats3d, Ragged]]:
    """Build per-label attention in which each label may attend to a learned null position.

    A label with nothing in the doc that concerns it pools its learned "no evidence" vector
    instead of unrelated tokens; its token attention weights then sum to less than 1.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors: an inline tok2vec, a
        Tok2VecListener or a TransformerListener. Its width is read at initialization.
    hidden_size (int): Width of the tanh projection the label queries attend over; 0 attends
        over the token vectors directly.
    nL (Optional[int]): Number of labels; the component sets it from its labels.
    nO (Optional[int]): Number of states per label; the component sets it from its states.
    RETURNS (Model[List[Doc], Tuple[Floats3d, Ragged]]): State probabilities
        (n_docs x n_labels x n_states) and attention weights (n_tokens x n_labels, ragged
        by doc).
    """
    return _build(tok2vec, hidden_size, nL, nO, null=True)


@registry.architectures("spacy-radlabels.PerLabelAttention.v3")
def build_per_label_attention_v3(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_size: int = 64,
    nL: Optional[int] = None,
    nO: Optional[int] = None,
    null: bool = False,
) -> Model[List[Doc], Tuple[Floats3d, Ragged]]:
    """Build per-label attention whose label states may depend on each other's.

    A label interaction layer (spacy_radlabels.interaction) shifts each label's logits by a
    learned linear term in the other labels' state probabilities, e.g. a symptom that a
    diagnosis explains, or a summary label that any finding rules out. It starts as the
    identity.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors: an inline tok2vec, a
        Tok2VecListener or a TransformerListener. Its width is read at initialization.
    hidden_size (int): Width of the tanh projection the label queries attend over; 0 attends
        over the token vectors directly.
    nL (Optional[int]): Number of labels; the component sets it from its labels.
    nO (Optional[int]): Number of states per label; the component sets it from its states.
    null (bool): Give each label a learned null position to attend to, as in v2.
    RETURNS (Model[List[Doc], Tuple[Floats3d, Ragged]]): State probabilities
        (n_docs x n_labels x n_states) and attention weights (n_tokens x n_labels, ragged
        by doc).
    """
    return _build(tok2vec, hidden_size, nL, nO, null=null, interaction=True)


def _build(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_size: int,
    nL: Optional[int],
    nO: Optional[int],
    null: bool,
    interaction: bool = False,
) -> Model[List[Doc], Tuple[Floats3d, Ragged]]:
    """Chain tok2vec and the attention layer, with the refs the component uses."""
    output_layer = PerLabelAttentionLayer(nL=nL, nS=nO, nH=hidden_size, null=null)
    layers = [tok2vec, list2ragged(), output_layer]
    if interaction:
        layers.append(LabelInteractionLayer(nL=nL, nS=nO))
    model = chain(*layers)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    if interaction:
        model.set_ref("label_interaction", layers[-1])
    return model
