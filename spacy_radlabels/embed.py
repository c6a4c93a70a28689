"""The architectures `spacy-radlabels.CueMultiHashEmbed.v1-v4`: MultiHashEmbed plus cues."""

from typing import Callable, List, Union, cast

import numpy
from spacy.ml.featureextractor import FeatureExtractor
from spacy.ml.staticvectors import StaticVectors
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    Embed,
    HashEmbed,
    Maxout,
    Model,
    chain,
    concatenate,
    list2ragged,
    ragged2list,
    with_array,
)
from thinc.layers.chain import forward as chain_forward
from thinc.layers.chain import init as chain_init
from thinc.types import Floats2d, Ints2d, Ragged

from .cues import LEXICONS, cue_features


def _versioned(version: int) -> Callable[..., Model[List[Doc], List[Floats2d]]]:
    """Make the builder of CueMultiHashEmbed with one version of the cue lexicon."""

    def build(
        width: int,
        attrs: List[Union[str, int]],
        rows: List[int],
        include_static_vectors: bool,
        cue_width: int = 16,
    ) -> Model[List[Doc], List[Floats2d]]:
        """Embed tokens as `spacy.MultiHashEmbed.v2` does, with a negation/uncertainty cue
        feature.

        Each token's cue kind and cue scope (`spacy_radlabels.cues`, a lexicon written from
        NegEx, NegBio and CheXpert) are embedded in a small table and concatenated with the
        hashed attributes (and static vectors) before the Maxout that mixes them, so that a
        cue word the training reports never used still reads as one. vN reads version N of
        the lexicon (`spacy_radlabels.cues.LEXICONS`); v4 also gives a token in the clinical
        details (under an "INDICATION:" or "CLINICAL HISTORY:" heading) its own set of values,
        since a window encoder cannot see a heading a sentence away. Earlier versions stay for
        the pipelines trained with them.

        width (int): The output width, and the width of each hash embedding table.
        attrs (List[Union[str, int]]): The token attributes to hash-embed, e.g. NORM, PREFIX,
            SUFFIX, SHAPE.
        rows (List[int]): The rows of each attribute's table, one per attribute.
        include_static_vectors (bool): Whether to also use the vocab's static word vectors.
        cue_width (int): The width of the cue feature's embedding table.
        RETURNS (Model[List[Doc], List[Floats2d]]): The embedding layer.
        """
        return _build(width, attrs, rows, include_static_vectors, cue_width, version)

    return build


build_cue_multi_hash_embed = registry.architectures("spacy-radlabels.CueMultiHashEmbed.v1")(
    _versioned(1)
)
build_cue_multi_hash_embed_v2 = registry.architectures("spacy-radlabels.CueMultiHashEmbed.v2")(
    _versioned(2)
)
build_cue_multi_hash_embed_v3 = registry.architectures("spacy-radlabels.CueMultiHashEmbed.v3")(
    _versioned(3)
)
build_cue_multi_hash_embed_v4 = registry.architectures("spacy-radlabels.CueMultiHashEmbed.v4")(
    _versioned(4)
)


def _build(
    width: int,
    attrs: List[Union[str, int]],
    rows: List[int],
    include_static_vectors: bool,
    cue_width: int,
    cue_version: int,
) -> Model[List[Doc], List[Floats2d]]:
    """Build the embedding layer of CueMultiHashEmbed with one version of the cue lexicon."""
    if len(rows) != len(attrs):
        raise ValueError(
            f"CueMultiHashEmbed got {len(attrs)} attrs but {len(rows)} rows: give one number "
            "of rows per attribute."
        )
    tables = [
        HashEmbed(width, n_rows, column=i, seed=8 + i, dropout=0.0) for i, n_rows in enumerate(rows)
    ]
    parts: List[Model[List[Doc], Ragged]] = [
        chain(
            FeatureExtractor(attrs),
            cast(Model[List[Ints2d], Ragged], list2ragged()),
            with_array(concatenate(*tables)),
        )
    ]
    if include_static_vectors:
        parts.append(StaticVectors(width, dropout=0.0))
    parts.append(
        chain(
            cue_feature_extractor(cue_version),
            cast(Model[List[Ints2d], Ragged], list2ragged()),
            with_array(Embed(cue_width, LEXICONS[cue_version].n_features, column=0, dropout=0.0)),
        )
    )
    concat_size = width * (len(tables) + include_static_vectors) + cue_width
    layers = [
        concatenate(*parts),
        with_array(Maxout(width, concat_size, nP=3, dropout=0.0, normalize=True)),
        ragged2list(),
    ]
    # The node chain() would make (trained pipelines load into it), with _embed_forward.
    return Model(
        ">>".join(layer.name for layer in layers),
        _embed_forward,
        init=chain_init,
        dims={"nO": width},
        layers=layers,
    )


def _embed_forward(model: Model, docs: List[Doc], is_train: bool):
    if not any(len(doc) for doc in docs):
        # Concatenating Ragged pieces drops the width of empty data, so the Maxout after it
        # would get (0, 0): a batch of empty docs gets its (0, width) rows here instead.
        width = model.get_dim("nO")
        return [model.ops.alloc2f(0, width) for _ in docs], lambda d_vectors: []
    return chain_forward(model, docs, is_train)


def cue_feature_extractor(version: int) -> Model[List[Doc], List[Ints2d]]:
    """Make a layer that gives each doc's tokens their cue feature (one column).

    version (int): The version of the cue lexicon (`spacy_radlabels.cues.LEXICONS`).
    RETURNS (Model[List[Doc], List[Ints2d]]): The feature layer.
    """
    return Model("cue_features", _cue_forward, attrs={"cue_version": version})


def _cue_forward(model: Model, docs: List[Doc], is_train: bool):
    version = model.attrs["cue_version"]
    features = [
        model.ops.asarray2i(numpy.asarray(cue_features(doc, version), dtype="int32").reshape(-1, 1))
        for doc in docs
    ]
    return features, lambda d_features: []
