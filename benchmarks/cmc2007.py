"""CMC 2007 ICD-9-CM coding, 5-fold cross-validation: radlabels vs textcat_multilabel.

Every system is trained on the same folds: for test fold k the other four folds are split
into train and a dev set (`--dev-fraction` of them, seeded) used only to pick the best
checkpoint by micro-F1. A code is a positive-only label: "positive" when coded, "negative"
otherwise (states ["positive", "negative"]). Systems:

- radlabels-cpu: configs/cpu-novectors.cfg (or --config); with --tok2vec-from its tok2vec starts
  from a trained pipeline's, e.g. the chest model trained on synthetic reports.
- textcat_multilabel: the same config and tok2vec start, with the radlabels head swapped
  for spaCy's TextCatReduce over the same tok2vec; a code is set when its score >= 0.5.
- radlabels-trf: configs/trf.cfg, only with --trf (slow without a GPU); `--trf-config
  configs/trf-frozen.cfg` trains over the frozen transformer instead, on CPU.

Extra `--section.key value` arguments override the config as in `spacy train`; they apply
to every system whose config has that setting (e.g. training.* and components.tok2vec.*
reach both heads, components.radlabels.* only radlabels).

    python benchmarks/cmc2007.py
    python benchmarks/cmc2007.py --no-textcat --components.radlabels.class_weights \\
        '{"positive": 3.0}'
    python benchmarks/cmc2007.py --tok2vec-from training/chest-cpu/model-best
    python benchmarks/cmc2007.py --no-textcat --config configs/cpu.cfg --fold-vectors
    python benchmarks/cmc2007.py --trf --gpu-id 0
    python benchmarks/cmc2007.py --trf --trf-config configs/trf-frozen.cfg --folds 0 1
    python benchmarks/cmc2007.py --training.dropout 0.2 \\
        --components.radlabels.model.hidden_size 128
"""

import random
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy
from common import (
    BINARY_STATES,
    CPU_CONFIG,
    DATA,
    TRF_CONFIG,
    binary_gold,
    dev_micro_f,
    mean_std,
    parse_overrides,
    predict_positive,
    print_table,
    radlabels_config,
    read_jsonl,
    score_positive,
    source_tok2vec,
    textcat_config,
    train_overrides,
    train_pipeline,
    training_parser,
    write_docbin,
)
from thinc.api import Config

from spacy_radlabels.vectors import build_vectors

SYSTEMS = ("radlabels-cpu", "textcat_multilabel", "radlabels-trf")


def system_config(
    system: str,
    overrides: Dict[str, object],
    cpu_config: Path,
    tok2vec_from: Optional[Path],
    trf_config: Path = TRF_CONFIG,
) -> Config:
    """Load the training config of one system.

    system (str): One of SYSTEMS.
    overrides (Dict[str, object]): Dotted overrides (paths, steps, command-line settings).
    cpu_config (Path): The tok2vec config of radlabels-cpu and textcat_multilabel.
    tok2vec_from (Optional[Path]): A trained pipeline whose tok2vec radlabels-cpu and
        textcat_multilabel start from.
    trf_config (Path): The config of radlabels-trf.
    RETURNS (Config): The config, not interpolated; labels come from the gold.
    """
    if system == "radlabels-trf":
        return radlabels_config(trf_config, overrides, BINARY_STATES)
    config = radlabels_config(cpu_config, overrides, BINARY_STATES)
    if tok2vec_from is not None:
        config = source_tok2vec(config, tok2vec_from)
    return textcat_config(config) if system == "textcat_multilabel" else config


def split_fold(
    records: List[Dict], fold: int, dev_fraction: float, seed: int
) -> Dict[str, List[Dict]]:
    """Split the records for one test fold: test = that fold, dev drawn from the rest.

    records (List[Dict]): All records, with "fold".
    fold (int): The test fold.
    dev_fraction (float): Share of the training folds held out for model selection.
    seed (int): Seeds the dev draw.
    RETURNS (Dict[str, List[Dict]]): "train", "dev" and "test" records.
    """
    rest = [r for r in records if r["fold"] != fold]
    random.Random(f"{seed}-{fold}").shuffle(rest)
    n_dev = max(1, round(len(rest) * dev_fraction))
    return {
        "train": rest[n_dev:],
        "dev": rest[:n_dev],
        "test": [r for r in records if r["fold"] == fold],
    }


def write_fold(
    split: Dict[str, List[Dict]], labels: Sequence[str], workdir: Path, per_coder: bool
) -> Tuple[Path, Path]:
    """Write one fold's train and dev corpora.

    split (Dict[str, List[Dict]]): "train", "dev" (and "test") records.
    labels (Sequence[str]): All ICD-9 codes.
    workdir (Path): The fold's folder.
    per_coder (bool): Train on each coding company's code set (one copy of a report per
        coder) instead of the majority; the model then estimates how likely a coder is to
        assign a code, and its 0.5 threshold approximates the majority vote. Dev keeps the
        majority, the gold of the challenge.
    RETURNS (Tuple[Path, Path]): The train and dev .spacy files.
    """
    nlp = spacy.blank("en")
    train = split["train"]
    if per_coder:
        train = [{**r, "codes": codes} for r in train for codes in r["codes_by_coder"].values()]
    paths = []
    for name, records in (("train", train), ("dev", split["dev"])):
        texts = [r["text"] for r in records]
        golds = [binary_gold(r["codes"], labels) for r in records]
        paths.append(write_docbin(nlp, texts, golds, workdir / f"{name}.spacy"))
    return paths[0], paths[1]


def test_system(
    config: Config,
    test: List[Dict],
    labels: Sequence[str],
    output_dir: Path,
    log: Optional[Path],
    gpu_id: int,
) -> Dict[str, object]:
    """Train one system on a fold and score it on the fold's test reports.

    config (Config): The system's training config, with the fold's corpora.
    test (List[Dict]): The test records.
    labels (Sequence[str]): All ICD-9 codes.
    output_dir (Path): Where the system's models go.
    log (Optional[Path]): Training log file.
    gpu_id (int): The GPU to train on, -1 for CPU.
    RETURNS (Dict[str, object]): Scores, "seconds" and the dev micro-F1 of the best model.
    """
    start = time.perf_counter()
    trained = train_pipeline(config, output_dir, log, gpu_id)
    predicted = predict_positive(trained, [r["text"] for r in test])
    scores = score_positive([set(r["codes"]) for r in test], predicted, labels)
    scores["seconds"] = time.perf_counter() - start
    scores["dev_micro_f"] = dev_micro_f(trained)
    return scores


def main() -> None:
    parser = training_parser(__doc__, DATA / "cmc2007" / "cmc2007.jsonl")
    parser.add_argument(
        "--config",
        type=Path,
        default=CPU_CONFIG,
        help="config of radlabels-cpu, whose tok2vec textcat_multilabel shares",
    )
    parser.add_argument(
        "--tok2vec-from",
        type=Path,
        default=None,
        help="a trained pipeline (e.g. the synthetic chest model) whose tok2vec radlabels-cpu "
        "and textcat_multilabel start from",
    )
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--dev-fraction", type=float, default=0.15)
    parser.add_argument(
        "--max-steps",
        type=int,
        default=1500,
        help="training.max_steps (1,500 steps are ~150 epochs of the ~660 training reports)",
    )
    parser.add_argument(
        "--eval-frequency", type=int, default=200, help="steps between dev evaluations"
    )
    parser.add_argument("--limit", type=int, default=None, help="use the first N reports")
    parser.add_argument("--trf", action="store_true", help="also train configs/trf.cfg")
    parser.add_argument(
        "--trf-config",
        type=Path,
        default=TRF_CONFIG,
        help="the radlabels-trf config, e.g. configs/trf-frozen.cfg (CPU)",
    )
    parser.add_argument("--no-textcat", action="store_true", help="skip textcat_multilabel")
    parser.add_argument("--seed", type=int, default=0, help="seeds the dev draw")
    parser.add_argument(
        "--fold-vectors",
        action="store_true",
        help="distil static vectors for each fold from the bundled MiniLM's whole words and "
        "the fold's training reports (`radlabels vectors --corpus`), for a --config that "
        "uses vectors",
    )
    parser.add_argument(
        "--per-coder",
        action="store_true",
        help="train on each coder's codes (3 copies per report) instead of the majority",
    )
    args, rest = parser.parse_known_args()
    overrides = parse_overrides(rest)
    records = read_jsonl(args.data, args.limit)
    labels = sorted({code for r in records for code in r["codes"]})
    systems = [
        s
        for s in SYSTEMS
        if (s != "radlabels-trf" or args.trf) and (s != "textcat_multilabel" or not args.no_textcat)
    ]
    print(f"{len(records)} reports, {len(labels)} codes, folds {args.folds}, systems {systems}")
    if overrides:
        print(f"overrides: {overrides}")
    per_fold: Dict[str, List[Dict[str, object]]] = {s: [] for s in systems}
    with tempfile.TemporaryDirectory() as tmp:
        for fold in args.folds:
            split = split_fold(records, fold, args.dev_fraction, args.seed)
            workdir = (args.output or Path(tmp)) / f"fold{fold}"
            workdir.mkdir(parents=True, exist_ok=True)
            train, dev = write_fold(split, labels, workdir, args.per_coder)
            fold_overrides = train_overrides(
                train, dev, args.max_steps, overrides, args.eval_frequency
            )
            if args.fold_vectors:
                build_vectors(workdir / "vectors", corpora=[train])
                fold_overrides["paths.vectors"] = str(workdir / "vectors")
            results = {
                system: test_system(
                    system_config(
                        system, fold_overrides, args.config, args.tok2vec_from, args.trf_config
                    ),
                    split["test"],
                    labels,
                    workdir / system,
                    args.log,
                    args.gpu_id,
                )
                for system in systems
            }
            sizes = {k: len(v) for k, v in split.items()}
            for system, scores in results.items():
                per_fold[system].append(scores)
                print(
                    f"fold {fold} {sizes}: {system:<20} micro-F1 {scores['micro_f']:.3f} "
                    f"macro-F1 {scores['macro_f']:.3f} (dev {scores['dev_micro_f']:.3f}, "
                    f"{scores['seconds']:.0f} s)",
                    flush=True,
                )
    print()
    rows = []
    for system, folds in per_fold.items():
        rows.append(
            [
                system,
                mean_std([f["micro_f"] for f in folds]),
                mean_std([f["macro_f"] for f in folds]),
                " ".join(f"{f['micro_f']:.3f}" for f in folds),
                f"{sum(f['seconds'] for f in folds) / len(folds):.0f}",
            ]
        )
    print_table(["system", "micro-F1", "macro-F1", "micro-F1 per fold", "s/fold"], rows)


if __name__ == "__main__":
    main()
