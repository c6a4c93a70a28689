"""thinc's BLIS against numpy's BLAS for a pipeline's matrix products, side by side.

`spacy-radlabels.numpy_matmul.v1` (configs/cpu.cfg) moves a pipeline's layers from thinc's
default NumpyOps(use_blis=True) to NumpyOps(use_blis=False). This times both in one
process, alternating --repeats times so that load from other jobs falls on both alike:
a float32 product at the pipeline's largest weight matrix, labelling the corpus's texts, and
--steps training updates on it. It prints each one's median and the BLIS / numpy ratio.
numpy's thread count follows OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS).

    python benchmarks/matmul.py --model training/cpu/model-best --corpus corpus/dev.spacy
    OPENBLAS_NUM_THREADS=1 python benchmarks/matmul.py --model M --corpus C   # one core
"""

import argparse
import os
import random
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy
import spacy
from common import print_table
from spacy.language import Language
from spacy.training import Corpus
from thinc.api import NumpyOps

from spacy_radlabels.loading import pipeline_nodes

VARIANTS = {"BLIS (thinc default)": True, "numpy (numpy_matmul.v1)": False}


def set_blis(nlp: Language, use_blis: bool) -> None:
    """Put every layer of the pipeline on NumpyOps with or without BLIS."""
    ops = NumpyOps(use_blis=use_blis)
    for node in pipeline_nodes(nlp):
        node.ops = ops


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="A trained CPU pipeline.")
    parser.add_argument("--corpus", type=Path, required=True, help="A .spacy corpus.")
    parser.add_argument("--n", type=int, default=500, help="Texts to label per pass.")
    parser.add_argument("--steps", type=int, default=10, help="Training updates per pass.")
    parser.add_argument("--batch-words", type=int, default=3000, help="Words per update.")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    nlp = spacy.load(args.model)
    examples = list(Corpus(str(args.corpus))(nlp))
    if not examples:
        raise SystemExit(f"{args.corpus} holds no documents: give a corpus with reports.")
    texts = [eg.reference.text for eg in examples[: args.n]]
    batches: List[list] = []
    random.Random(0).shuffle(examples)
    batch: list = []
    for eg in examples:
        batch.append(eg)
        if sum(len(e.reference) for e in batch) >= args.batch_words:
            batches.append(batch)
            batch = []
    if not batches:
        raise SystemExit(f"{args.corpus} has fewer than --batch-words {args.batch_words} words.")
    # Weights as (outputs, inputs): a Maxout's (nO, nP, nI) multiplies as (nO * nP, nI).
    shapes = [
        node.get_param("W").reshape(-1, node.get_param("W").shape[-1]).shape
        for node in pipeline_nodes(nlp)
        if node.has_param("W")
    ]
    widest = max(shapes, key=lambda shape: shape[0] * shape[1])
    rng = numpy.random.default_rng(0)
    x = rng.random((args.batch_words, widest[1]), dtype="float32")
    w = rng.random((widest[1], widest[0]), dtype="float32")
    optimizer = nlp.resume_training()
    tasks: Dict[str, Callable[[], object]] = {
        f"matmul {args.batch_words}x{widest[1]} . {widest[1]}x{widest[0]}, ms": lambda: [
            nlp.get_pipe(nlp.pipe_names[0]).model.ops.gemm(x, w) for _ in range(20)
        ],
        f"label {len(texts)} texts, s": lambda: list(nlp.pipe(texts)),
        f"{args.steps} updates of {args.batch_words} words, s": lambda: [
            nlp.update(batches[i % len(batches)], sgd=optimizer) for i in range(args.steps)
        ],
    }
    times: Dict[str, Dict[bool, List[float]]] = {t: {b: [] for b in (True, False)} for t in tasks}
    for use_blis in (True, False):  # warm-up: lexemes, caches, thread pools
        set_blis(nlp, use_blis)
        list(nlp.pipe(texts[:50]))
    for _ in range(args.repeats):
        for use_blis in (True, False):
            set_blis(nlp, use_blis)
            for name, work in tasks.items():
                times[name][use_blis].append(timed(work))
    rows = []
    for name, by_variant in times.items():
        scale = 1000 / 20 if name.startswith("matmul") else 1
        blis, plain = (statistics.median(by_variant[b]) * scale for b in (True, False))
        rows.append([name, f"{blis:.2f}", f"{plain:.2f}", f"{blis / plain:.2f}"])
    print(f"cores: {os.cpu_count()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print_table(["median of " + str(args.repeats), *VARIANTS, "BLIS / numpy"], rows)


if __name__ == "__main__":
    main()
