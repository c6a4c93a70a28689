"""Helpers shared by the benchmark scripts: data, pipelines, training and scoring.

The benchmarks read research data from `../shared/data` (relative to the repository) and
never copy it: every script takes the data path as an argument.
"""

import argparse
import io
import json
import statistics
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_nlp
from thinc.api import Config

from spacy_radlabels.scorer import SCORE_MACRO_F, SCORE_MICRO_F, score_label_pairs

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
# Without static vectors: the benchmarks train without building them (and their figures did).
CPU_CONFIG = ROOT / "configs" / "cpu-novectors.cfg"
TRF_CONFIG = ROOT / "configs" / "trf.cfg"
# The positive-only gold of the real corpora: a label is coded (positive) or not.
BINARY_STATES = ["positive", "negative"]
# spaCy's textcat_multilabel threshold (also its scorer's) for a label to count as set.
TEXTCAT_THRESHOLD = 0.5
# Model selection on the dev set uses the benchmarks' headline metric, micro-F1.
SELECT_RADLABELS = {"labels_micro_f": 1.0, "labels_macro_f": 0.0, "labels_acc": 0.0}
SELECT_TEXTCAT = {
    "cats_micro_f": 1.0,
    "cats_score": 0.0,
    "cats_macro_f": 0.0,
    "cats_macro_auc": 0.0,
}


def read_jsonl(path: Path, limit: Optional[int] = None) -> List[Dict]:
    """Read the records of a JSONL file.

    path (Path): The file.
    limit (Optional[int]): Keep only the first `limit` records.
    RETURNS (List[Dict]): The records.
    """
    if not path.exists():
        raise SystemExit(f"{path}: not found. Pass the data file with --data PATH.")
    records = []
    with path.open(encoding="utf8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
            if limit is not None and len(records) >= limit:
                break
    return records


def write_docbin(
    nlp: Language, texts: Sequence[str], golds: Sequence[Dict[str, str]], path: Path
) -> Path:
    """Write docs with gold for both radlabels (`doc._.labels`) and textcat (`doc.cats`).

    nlp (Language): Supplies the tokenizer.
    texts (Sequence[str]): The report texts.
    golds (Sequence[Dict[str, str]]): label -> state per report.
    path (Path): The .spacy file to write.
    RETURNS (Path): The path.
    """
    doc_bin = DocBin(store_user_data=True)
    for text, gold in zip(texts, golds):
        doc = nlp.make_doc(text)
        doc._.labels = dict(gold)
        doc.cats = {label: float(state == "positive") for label, state in gold.items()}
        doc_bin.add(doc)
    doc_bin.to_disk(path)
    return path


def binary_gold(positive: Iterable[str], labels: Sequence[str]) -> Dict[str, str]:
    """Turn a set of coded labels into a positive/negative state for every label.

    positive (Iterable[str]): The labels coded for a report.
    labels (Sequence[str]): All labels.
    RETURNS (Dict[str, str]): label -> "positive" or "negative".
    """
    coded = set(positive)
    return {label: "positive" if label in coded else "negative" for label in labels}


def textcat_config(config: Config) -> Config:
    """Swap the radlabels head of a cpu.cfg-style config for spaCy's textcat_multilabel.

    The new head (TextCatReduce, mean pooling, as spaCy's default) listens to the same
    tok2vec component, so the two pipelines differ only in the head.

    config (Config): A config with `tok2vec` and `radlabels` components (not interpolated).
    RETURNS (Config): A copy with `textcat_multilabel` in place of `radlabels`.
    """
    config = Config(config).copy()
    listener = config["components"]["radlabels"]["model"]["tok2vec"]
    del config["components"]["radlabels"]
    config["initialize"]["components"].pop("radlabels", None)
    config["nlp"]["pipeline"] = ["tok2vec", "textcat_multilabel"]
    config["components"]["textcat_multilabel"] = {
        "factory": "textcat_multilabel",
        **textcat_component(listener),
    }
    config["training"]["score_weights"] = dict(SELECT_TEXTCAT)
    return config


def textcat_component(listener: Dict[str, object]) -> Dict[str, object]:
    """The settings of the benchmarks' textcat_multilabel: TextCatReduce over a listener.

    listener (Dict[str, object]): The tok2vec listener's config block.
    RETURNS (Dict[str, object]): The component's `threshold` and `model`, e.g. for
        `nlp.add_pipe("textcat_multilabel", config=...)`.
    """
    return {
        "threshold": TEXTCAT_THRESHOLD,
        "model": {
            "@architectures": "spacy.TextCatReduce.v1",
            "exclusive_classes": False,
            "use_reduce_first": False,
            "use_reduce_last": False,
            "use_reduce_max": False,
            "use_reduce_mean": True,
            "tok2vec": dict(listener),
        },
    }


def source_tok2vec(config: Config, pipeline: Path) -> Config:
    """Start the shared tok2vec from a trained pipeline's, e.g. a model of synthetic reports.

    The component is sourced with its weights and trained further; the listener takes the
    sourced tok2vec's width.

    config (Config): A cpu.cfg-style config with `tok2vec` and `radlabels` (not
        interpolated); apply before `textcat_config`, which copies the listener.
    pipeline (Path): A trained pipeline with a `tok2vec` component.
    RETURNS (Config): A copy that sources `tok2vec` from the pipeline.
    """
    if not (pipeline / "config.cfg").exists():
        raise SystemExit(
            f"{pipeline}: not a trained pipeline (no config.cfg). Give a model directory, "
            "e.g. training/chest-cpu/model-best from `spacy project run chest`."
        )
    source = spacy.util.load_config(pipeline / "config.cfg", interpolate=True)
    if "tok2vec" not in source["components"]:
        raise SystemExit(f"{pipeline}: the pipeline has no tok2vec component to start from.")
    config = Config(config).copy()
    config["components"]["tok2vec"] = {"source": str(pipeline)}
    listener = config["components"]["radlabels"]["model"]["tok2vec"]
    listener["width"] = source["components"]["tok2vec"]["model"]["encode"]["width"]
    if source["components"]["tok2vec"]["model"]["embed"].get("include_static_vectors"):
        # The sourced tok2vec reads the pipeline's static vectors: load them with it.
        config["initialize"]["vectors"] = str(pipeline)
    return config


def radlabels_config(
    path: Path,
    overrides: Dict[str, object],
    states: Sequence[str],
    labels: Optional[Sequence[str]] = None,
    hierarchy: Optional[Dict[str, str]] = None,
) -> Config:
    """Load a radlabels training config (cpu.cfg or trf.cfg) for a benchmark.

    Overrides of sections the config lacks (e.g. components.tok2vec in trf.cfg) are
    skipped with a note, so one command line can serve both configs.

    path (Path): The config file.
    overrides (Dict[str, object]): Dotted overrides (paths, steps, command-line settings).
    states (Sequence[str]): The component's states.
    labels (Optional[Sequence[str]]): The labels, e.g. from a schema; None takes them from
        the training gold.
    hierarchy (Optional[Dict[str, str]]): child -> parent, e.g. from a schema.
    RETURNS (Config): The config, not interpolated; dev selection by micro-F1.
    """
    base = spacy.util.load_config(path, interpolate=False)
    usable = {k: v for k, v in overrides.items() if _has_section(base, k)}
    for key in sorted(set(overrides) - set(usable)):
        print(f"note: {path.name} has no section for override {key}; skipped")
    config = spacy.util.load_config(path, overrides=usable, interpolate=False)
    config["components"]["radlabels"]["states"] = list(states)
    config["training"]["score_weights"] = dict(SELECT_RADLABELS)
    init: Dict[str, object] = {}
    if labels is not None:
        init["labels"] = list(labels)
    if hierarchy is not None:
        init["hierarchy"] = dict(hierarchy)
    config["initialize"]["components"]["radlabels"] = init
    return config


def _has_section(config: Config, dotted: str) -> bool:
    section = config
    for key in dotted.split(".")[:-1]:
        if not isinstance(section, dict) or key not in section:
            return False
        section = section[key]
    return isinstance(section, dict)


def train_overrides(
    train: Path,
    dev: Path,
    max_steps: Optional[int],
    extra: Dict[str, object],
    eval_frequency: Optional[int] = None,
) -> Dict[str, object]:
    """Build the config overrides for one training run.

    train (Path): The training .spacy file.
    dev (Path): The dev .spacy file (model selection).
    max_steps (Optional[int]): Override training.max_steps (and cap eval_frequency so a
        short run still evaluates and saves a best model).
    extra (Dict[str, object]): Further overrides from the command line.
    eval_frequency (Optional[int]): Override training.eval_frequency.
    RETURNS (Dict[str, object]): The overrides.
    """
    overrides: Dict[str, object] = {"paths.train": str(train), "paths.dev": str(dev)}
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
        eval_frequency = max(1, min(eval_frequency or 200, max_steps // 2))
    if eval_frequency is not None:
        overrides["training.eval_frequency"] = eval_frequency
    overrides.update(extra)
    return overrides


def train_pipeline(
    config: Config, output_dir: Path, log: Optional[Path] = None, gpu_id: int = -1
) -> Language:
    """Train a pipeline and load its best checkpoint (by the config's score weights).

    config (Config): The full training config, not interpolated.
    output_dir (Path): Where model-best and model-last go.
    log (Optional[Path]): Append the training log here; by default it is discarded.
    gpu_id (int): The GPU to train on, -1 for CPU.
    RETURNS (Language): The best pipeline on the dev set.
    """
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = init_nlp(config, use_gpu=gpu_id)
    output_dir.mkdir(parents=True, exist_ok=True)
    if log is None:
        train_nlp(nlp, output_dir, use_gpu=gpu_id, stdout=io.StringIO(), stderr=io.StringIO())
    else:
        with log.open("a", encoding="utf8") as f:
            train_nlp(nlp, output_dir, use_gpu=gpu_id, stdout=f, stderr=f)
    return spacy.load(output_dir / "model-best")


def dev_micro_f(nlp: Language) -> float:
    """Read the dev micro-F1 a trained pipeline's best checkpoint was selected with.

    nlp (Language): A pipeline saved by `train_pipeline`.
    RETURNS (float): The micro-F1 on the dev set.
    """
    performance = nlp.meta["performance"]
    return performance.get("labels_micro_f", performance.get("cats_micro_f", 0.0))


def labels_in(doc: Doc, states: Sequence[str]) -> Set[str]:
    """Collect the labels radlabels set to one of some states on a doc.

    doc (Doc): A doc that radlabels has labelled.
    states (Sequence[str]): The states, e.g. ("positive",).
    RETURNS (Set[str]): The labels in those states.
    """
    return {label for label, state in doc._.labels.items() if state in states}


def predict_positive(nlp: Language, texts: Sequence[str], batch_size: int = 64) -> List[Set[str]]:
    """Run a radlabels or textcat_multilabel pipeline and collect the positive labels.

    nlp (Language): A pipeline ending in `radlabels` or `textcat_multilabel`.
    texts (Sequence[str]): The reports.
    batch_size (int): Docs per batch.
    RETURNS (List[Set[str]]): The labels predicted positive, per report.
    """
    head = nlp.pipe_names[-1]
    predicted = []
    for doc in nlp.pipe(texts, batch_size=batch_size):
        if head == "textcat_multilabel":
            predicted.append({k for k, v in doc.cats.items() if v >= TEXTCAT_THRESHOLD})
        else:
            predicted.append(labels_in(doc, ("positive",)))
    return predicted


def score_positive(
    golds: Sequence[Set[str]], preds: Sequence[Set[str]], labels: Sequence[str]
) -> Dict[str, object]:
    """Score predicted positive label sets with the radlabels scorer (positive state only).

    golds (Sequence[Set[str]]): The gold positive labels per report.
    preds (Sequence[Set[str]]): The predicted positive labels per report.
    labels (Sequence[str]): The labels to score.
    RETURNS (Dict[str, object]): "micro_f", "macro_f" (over labels with any gold or
        predicted positive), "per_label" (label -> {"p", "r", "f", "support"}),
        "spurious" (positive where the gold is not) and "spurious_rate" (their share of
        the (report, label) pairs whose gold is not positive).
    """
    pairs: List[Tuple[str, str, str]] = []
    for gold, pred in zip(golds, preds):
        for label in labels:
            pairs.append((label, _state(label in gold), _state(label in pred)))
    scores = score_label_pairs(pairs, labels, BINARY_STATES)
    per_label = {label: s["positive"] for label, s in scores["labels_per_label"].items()}
    not_gold = [pred for _, gold, pred in pairs if gold != "positive"]
    spurious = not_gold.count("positive")
    return {
        "micro_f": scores[SCORE_MICRO_F],
        "macro_f": scores[SCORE_MACRO_F],
        "per_label": per_label,
        "spurious": spurious,
        "spurious_rate": spurious / len(not_gold) if not_gold else 0.0,
    }


def _state(is_positive: bool) -> str:
    return "positive" if is_positive else "negative"


def mean_std(values: Sequence[float]) -> str:
    """Format values as "mean ± sample standard deviation".

    values (Sequence[float]): e.g. one score per fold.
    RETURNS (str): e.g. "0.891 ± 0.012".
    """
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a Markdown table (left-aligned first column), ready for BENCHMARKS.md.

    headers (Sequence[str]): Column names.
    rows (Iterable[Sequence[object]]): Cells; floats are printed with 3 decimals.
    """
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))
        ]
        return "| " + " | ".join(parts) + " |"

    print(line(headers))
    print(
        "|"
        + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
    )
    for row in cells:
        print(line(row))


def training_parser(description: str, data: Path) -> argparse.ArgumentParser:
    """An argument parser with the options every training benchmark shares.

    description (str): The script's docstring.
    data (Path): The default data file.
    RETURNS (argparse.ArgumentParser): The parser; `--section.key value` pairs are left
        for parse_known_args and parse_overrides.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--data", type=Path, default=data, help=data.name)
    parser.add_argument("--log", type=Path, default=None, help="append training logs here")
    parser.add_argument("--output", type=Path, default=None, help="keep corpora and models here")
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU to train on (-1: CPU)")
    return parser


def parse_overrides(args: Sequence[str]) -> Dict[str, object]:
    """Parse `--section.key value` pairs left over by argparse, as `spacy train` does.

    args (Sequence[str]): The unknown arguments.
    RETURNS (Dict[str, object]): Dotted config overrides.
    """
    from spacy.cli._util import parse_config_overrides

    return parse_config_overrides(list(args))
