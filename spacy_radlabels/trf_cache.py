"""A training-time cache of a frozen transformer's token vectors, one entry per distinct text."""

from hashlib import blake2b
from typing import Callable, Dict, Optional, Tuple

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, deserialize_attr, serialize_attr
from thinc.types import Floats2d

from .loading import pipeline_nodes

CacheKey = Tuple[bytes, int]


class TransformerOutputCache:
    """Token vectors of a frozen transformer per distinct text, so that a training run
    featurises each report once and reuses the vectors in every epoch and evaluation.

    A cache starts disabled; `spacy-radlabels.cache_frozen_transformers.v1` enables it for a
    training run. It is never saved with the model, so a loaded pipeline does not cache.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.n_computed = 0
        self.n_reused = 0
        self._vectors: Dict[CacheKey, Floats2d] = {}

    @staticmethod
    def key(doc: Doc) -> CacheKey:
        """Key a doc by a hash of its text and its length in tokens.

        doc (Doc): The doc to key.
        RETURNS (Tuple[bytes, int]): The key.
        """
        return blake2b(doc.text.encode("utf8"), digest_size=16).digest(), len(doc)

    def get(self, key: CacheKey) -> Optional[Floats2d]:
        """Return the vectors stored under a key, counting a reuse, or None.

        key (Tuple[bytes, int]): A key from `TransformerOutputCache.key`.
        RETURNS (Optional[Floats2d]): The token vectors, or None if not cached.
        """
        vectors = self._vectors.get(key)
        if vectors is not None:
            self.n_reused += 1
        return vectors

    def put(self, key: CacheKey, vectors: Floats2d) -> None:
        """Store the vectors of a newly featurised text.

        key (Tuple[bytes, int]): A key from `TransformerOutputCache.key`.
        vectors (Floats2d): Its token vectors (n_tokens x width).
        """
        self._vectors[key] = vectors
        self.n_computed += 1

    def __len__(self) -> int:
        return len(self._vectors)


# The cache is training-time state: it serialises to nothing, and a model loaded from disk
# keeps the empty, disabled cache its config built.
@serialize_attr.register(TransformerOutputCache)
def _serialize_cache(_: TransformerOutputCache, value, name: str, model: Model) -> bytes:
    return srsly.msgpack_dumps(None)


@deserialize_attr.register(TransformerOutputCache)
def _deserialize_cache(
    default: TransformerOutputCache, value: bytes, name: str, model: Model
) -> TransformerOutputCache:
    return default


def enable_transformer_caches(nlp: Language) -> Language:
    """Enable the output cache of every frozen transformer layer in the pipeline.

    nlp (Language): The pipeline about to be trained.
    RETURNS (Language): The same pipeline.
    """
    for node in pipeline_nodes(nlp):
        cache = node.attrs.get("cache")
        if isinstance(cache, TransformerOutputCache):
            cache.enabled = True
    return nlp


@registry.callbacks("spacy-radlabels.cache_frozen_transformers.v1")
def make_enable_transformer_caches() -> Callable[[Language], Language]:
    """Return an `[initialize.after_init]` callback that enables the training-time cache
    of every `spacy-radlabels.FrozenTransformer.v1` layer in the pipeline.

    RETURNS (Callable[[Language], Language]): The callback.
    """
    return enable_transformer_caches
