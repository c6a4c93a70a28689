"""Evaluate a pipeline on annotated data (.spacy, .jsonl or .csv) from Python or the CLI."""

from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import DocBin

from .annotations import read_annotated
from .gold import GoldError, validate_gold
from .loading import find_radlabels, pipeline_identity
from .metrics import compute_metrics


def read_gold(
    path: Path, labels: Sequence[str], states: Sequence[str], vocab: Any
) -> Tuple[List[str], List[Dict[str, str]]]:
    """Read the texts and checked gold labels of an evaluation set.

    path (Path): A .spacy file with gold in doc._.labels, or an annotated .jsonl/.csv file.
    labels (Sequence[str]): The pipeline's labels; gold may use any subset.
    states (Sequence[str]): The pipeline's states.
    vocab (Any): The pipeline's vocab, to read a .spacy file.
    RETURNS (Tuple[List[str], List[Dict[str, str]]]): Texts and gold, doc by doc.
    """
    if path.suffix == ".spacy":
        docs = list(DocBin().from_disk(path).get_docs(vocab))
        try:
            gold = [
                validate_gold(doc._.labels, states, labels, doc_index=i, doc=doc)
                for i, doc in enumerate(docs)
            ]
        except GoldError as err:
            raise GoldError(f"{path}: {err}") from None
        return [doc.text for doc in docs], gold
    reports = list(read_annotated(path, labels, states))
    return [report.text for report in reports], [report.labels for report in reports]


def evaluate_pipeline(nlp: Language, path: Path, batch_size: int = 64) -> Dict[str, Any]:
    """Label an annotated evaluation set with a pipeline and score it against the gold.

    nlp (Language): A pipeline with a `radlabels` component.
    path (Path): A .spacy file with gold in doc._.labels, or an annotated .jsonl/.csv file.
    batch_size (int): Reports per batch.
    RETURNS (Dict[str, Any]): The metrics of `compute_metrics`, with "model": the
        pipeline's lang, name and version.
    """
    pipe = find_radlabels(nlp)
    texts, gold = read_gold(path, pipe.labels, pipe.states, nlp.vocab)
    predicted = [doc._.labels for doc in nlp.pipe(texts, batch_size=batch_size)]
    metrics = compute_metrics(gold, predicted, pipe.labels, pipe.states)
    metrics["model"] = pipeline_identity(nlp)
    return metrics
