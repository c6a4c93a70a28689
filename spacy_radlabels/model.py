"""The architecture `spacy-radlabels.PerLabelAttention.v1`."""

from typing import List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, chain, list2ragged
from thinc.types import Floats2d, Floats3d, Ragged

from .attention import PerLabelAttentionLayer


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
    output_layer = PerLabelAttentionLayer(nL=nL, nS=nO, nH=hidden_size)
    model = chain(tok2vec, list2ragged(), output_layer)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output_layer)
    return model
