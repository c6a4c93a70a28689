"""GPU check: train configs/trf.cfg (full fine-tuning) briefly, score it, and time trf vs cpu.

Synthesises a head CT corpus, trains each config for --steps steps on the GPU, scores the
best checkpoint on dev and on reports written with held-out templates, and times
inference in reports/s with spacy.require_gpu(); everything lands in one printed table.
On a machine with one GPU, from a fresh clone (sets up .venv and CUDA builds first):

    bash scripts/gpu_check.sh                          # trf + cpu, 300 steps, < 8 minutes
    python benchmarks/gpu_check.py --gpu-id 0 --configs trf trf-frozen cpu --steps 500
    python benchmarks/gpu_check.py --gpu-id -1 --steps 2 --n 40   # CPU smoke test
"""

import argparse
import random
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import List, Sequence

import spacy
from common import ROOT, print_table, train_overrides, train_pipeline
from spacy.language import Language
from spacy.tokens import DocBin

from spacy_radlabels.evaluation import evaluate_pipeline
from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import load_templates, write_corpus
from spacy_radlabels.transformer import BUNDLED_MINILM
from spacy_radlabels.vectors import corpus_words, distill_vectors, write_vectors

SCHEMA = ROOT / "assets" / "schemas" / "head_ct.yml"


def reports_per_second(nlp: Language, texts: Sequence[str], batch_size: int) -> float:
    """Time labelling texts after a warm-up batch (weights on the device, kernels loaded).

    nlp (Language): The pipeline.
    texts (Sequence[str]): The reports.
    batch_size (int): Reports per batch.
    RETURNS (float): Reports per second.
    """
    list(nlp.pipe(texts[:batch_size], batch_size=batch_size))
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    return len(texts) / (time.perf_counter() - start)


def config_reads_vectors(path: Path) -> bool:
    """Whether a training config loads static vectors at initialization.

    path (Path): The config file.
    RETURNS (bool): True when its [initialize] vectors setting is not null.
    """
    return spacy.util.load_config(path, interpolate=False)["initialize"]["vectors"] is not None


def device_name(gpu_id: int) -> str:
    """Name the device the check runs on, e.g. "cuda:0 NVIDIA H100 80GB HBM3"."""
    if gpu_id < 0:
        return "cpu"
    import torch

    return f"cuda:{gpu_id} {torch.cuda.get_device_name(gpu_id)}"


def main(args: argparse.Namespace, output: Path) -> None:
    schema = load_schema(args.schema)
    corpus = output / "corpus"
    write_corpus(
        schema,
        load_templates(schema.templates, schema),
        corpus,
        n=args.n,
        seed=args.seed,
        n_heldout=args.n_heldout,
    )
    heldout = corpus / "test_heldout.spacy"
    texts = [doc.text for doc in DocBin().from_disk(heldout).get_docs(spacy.blank("en").vocab)]
    speed_texts = (texts * (args.n_speed // max(len(texts), 1) + 1))[: args.n_speed]
    random.Random(args.seed).shuffle(speed_texts)
    # Only configs whose [initialize] names vectors read them (configs/cpu.cfg): distil them
    # from the corpus's words only, where the workflow adds MiniLM's whole words, to keep the
    # check short.
    vectors = None
    if any(config_reads_vectors(ROOT / "configs" / f"{name}.cfg") for name in args.configs):
        words = corpus_words([corpus / "train.spacy"])
        vectors = output / "vectors"
        dims = min(128, len(words))
        write_vectors(words, distill_vectors(BUNDLED_MINILM, words, dims), vectors)
    device = device_name(args.gpu_id)
    rows: List[List[object]] = []
    for name in args.configs:
        overrides = train_overrides(
            corpus / "train.spacy",
            corpus / "dev.spacy",
            args.steps,
            {"paths.schema": str(args.schema), "paths.vectors": str(vectors) if vectors else None},
        )
        config = spacy.util.load_config(ROOT / "configs" / f"{name}.cfg", overrides=overrides)
        start = time.perf_counter()
        nlp = train_pipeline(config, output / name, log=output / "train.log", gpu_id=args.gpu_id)
        train_s = time.perf_counter() - start
        dev = evaluate_pipeline(nlp, corpus / "dev.spacy")
        test = evaluate_pipeline(nlp, heldout)
        speed = reports_per_second(nlp, speed_texts, args.batch_size)
        rows.append(
            [name, device, args.steps, f"{train_s:.0f}", dev["macro_f"], test["macro_f"],
             f"{speed:.0f}"]
        )  # fmt: skip
    print(
        f"\nhead CT, {args.n} synthetic reports (train + dev), {args.n_heldout} held-out; "
        f"speed over {len(speed_texts)} reports, batch size {args.batch_size}"
    )
    print_table(
        ["config", "device", "steps", "train s", "dev macro-F1", "held-out macro-F1",
         "reports/s"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpu-id", type=int, default=0, help="GPU to use (-1: CPU)")
    parser.add_argument("--configs", nargs="+", default=["trf", "cpu"], help="configs/NAME.cfg")
    parser.add_argument("--steps", type=int, default=300, help="training steps per config")
    parser.add_argument("--n", type=int, default=2000, help="synthetic reports (train + dev)")
    parser.add_argument("--n-heldout", type=int, default=500, help="held-out-template reports")
    parser.add_argument("--n-speed", type=int, default=2000, help="reports timed per pipeline")
    parser.add_argument("--batch-size", type=int, default=64, help="reports per batch")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="schema YAML")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--output", type=Path, default=None, help="keep corpus and models here")
    args = parser.parse_args()
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
        main(args, args.output)
    else:
        with TemporaryDirectory() as tmp:
            main(args, Path(tmp))
