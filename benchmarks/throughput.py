"""Reports per second and peak memory: radlabels, textcat_multilabel and the rule baseline.

radlabels and textcat_multilabel are built from configs/cpu.cfg (tok2vec component +
listener); the textcat_multilabel one swaps the radlabels head for spaCy's TextCatReduce
over the same tok2vec (common.textcat_config). The rule baseline is rule_baseline.py's
entity_ruler + negex pipeline. All take their labels from --schema. Untrained weights
cost the same time as trained ones; pass --model to time a trained radlabels pipeline.
Each measurement runs in a fresh process, so peak memory (the largest process's peak
RSS, getrusage) is its own; the timed pass is the process's first over all but the 50
warm-up texts, so it also pays for creating their lexemes.

--same-tok2vec measures the head alone: in one process, the trained pipeline of --model
gets a textcat_multilabel (untrained) that listens to the same trained tok2vec as its
radlabels. After one pass over the texts, tok2vec alone, radlabels and
textcat_multilabel are timed in turn, --repeats times, so load from other jobs falls on
all three alike. The table gives each one's median reports per second of wall-clock
time and of the process's CPU time, the head's CPU ms per report over the round's
tok2vec-alone pass (median of the rounds), and the radlabels / textcat_multilabel ratio
of the rounds.

    python benchmarks/throughput.py                          # 2,000 synthetic head CT reports
    python benchmarks/throughput.py --input ../shared/data/openi/openi.jsonl --n 5000 \\
        --schema assets/schemas/chest_xray.yml --n-process 1 2
    python benchmarks/throughput.py --model training/model-best   # a trained radlabels
    python benchmarks/throughput.py --input ../shared/data/openi/openi.jsonl --n 5000 \\
        --model training/chest-cpu/model-best --same-tok2vec --repeats 5
"""

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import spacy
from common import (
    CPU_CONFIG,
    ROOT,
    print_table,
    radlabels_config,
    read_jsonl,
    textcat_component,
    textcat_config,
)
from rule_baseline import build_rule_baseline
from spacy.language import Language
from spacy.training import Example

from spacy_radlabels.schema import Schema, load_schema

SCHEMA = ROOT / "assets" / "schemas" / "head_ct.yml"
PIPELINES = ("radlabels", "textcat_multilabel", "rule_baseline")
# --same-tok2vec: what each timed pass runs after the tokenizer.
SAME_TOK2VEC = {
    "tok2vec": ["tok2vec"],
    "radlabels": ["tok2vec", "radlabels"],
    "textcat_multilabel": ["tok2vec", "textcat_multilabel"],
}


def load_texts(
    path: Optional[Path], text_key: str, n: int, schema: Schema, seed: int = 0
) -> List[str]:
    """Read n report texts from a JSONL file (cycled if shorter), or synthesise them.

    path (Optional[Path]): A JSONL file, or None for synthetic reports from the schema.
    text_key (str): The JSONL key holding the report text.
    n (int): How many texts.
    schema (Schema): Renders the synthetic reports (with its templates).
    seed (int): Seeds the synthetic reports.
    RETURNS (List[str]): The texts.
    """
    if path is not None:
        texts = [record[text_key] for record in read_jsonl(path)]
        return (texts * (n // max(len(texts), 1) + 1))[:n]
    from spacy_radlabels.synth import ReportGenerator, load_templates

    generator = ReportGenerator(schema, load_templates(schema.templates, schema))
    rng = random.Random(seed)
    return [generator.generate(rng)[0] for _ in range(n)]


def build(name: str, schema: Schema, model: Optional[str]) -> Language:
    """Build and initialize one pipeline.

    name (str): One of PIPELINES.
    schema (Schema): Supplies labels, states and (for the rule baseline) variants.
    model (Optional[str]): A trained radlabels pipeline to load instead.
    RETURNS (Language): The pipeline.
    """
    if name == "rule_baseline":
        return build_rule_baseline(schema)
    if name == "radlabels" and model:
        return spacy.load(model)
    config = radlabels_config(CPU_CONFIG, {}, schema.states, schema.labels, schema.hierarchy)
    if name == "textcat_multilabel":
        config = textcat_config(config)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    if name == "textcat_multilabel":
        for label in schema.labels:
            nlp.get_pipe(name).add_label(label)
    nlp.initialize(lambda: [spacy.training.Example.from_dict(nlp.make_doc("x"), {})])
    return nlp


def worker(args: argparse.Namespace) -> None:
    """Time one pipeline on the texts and print a JSON line."""
    schema = load_schema(args.schema)
    texts = load_texts(args.input, args.text_key, args.n, schema)
    nlp = build(args.worker, schema, args.model)
    list(nlp.pipe(texts[:50]))  # warm up
    start = time.perf_counter()
    count = sum(1 for _ in nlp.pipe(texts, batch_size=args.batch_size, n_process=args.n_process))
    seconds = time.perf_counter() - start
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(json.dumps({"docs": count, "seconds": seconds, "peak_mib": peak / 1024}))


def add_textcat_head(nlp: Language, model: str) -> None:
    """Add an untrained textcat_multilabel that listens to the pipeline's trained tok2vec.

    It takes the labels and the listener settings of the pipeline's radlabels component,
    so the two heads read the same token vectors.

    nlp (Language): A trained radlabels pipeline with a `tok2vec` component.
    model (str): Its path, for the error message.
    """
    if "tok2vec" not in nlp.pipe_names or "radlabels" not in nlp.pipe_names:
        raise SystemExit(
            f"{model}: --same-tok2vec needs a pipeline with `tok2vec` and `radlabels` "
            f"components (this one has {nlp.pipe_names}), e.g. one trained with "
            "configs/cpu.cfg: training/chest-cpu/model-best."
        )
    config = nlp.config.interpolate()["components"]["radlabels"]["model"]
    if config["tok2vec"].get("upstream") not in ("tok2vec", "*"):
        raise SystemExit(f"{model}: radlabels does not listen to the tok2vec component.")
    labels = nlp.get_pipe("radlabels").labels
    textcat = nlp.add_pipe("textcat_multilabel", config=textcat_component(config["tok2vec"]))
    doc = nlp.make_doc("x")
    example = Example.from_dict(doc, {"cats": {label: 0.0 for label in labels}})
    textcat.initialize(lambda: [example], nlp=nlp, labels=labels)


def rates(
    nlp: Language, texts: List[str], components: Iterable[str], batch_size: int
) -> Tuple[float, float]:
    """Run the pipeline with only some components over the texts; return its speed.

    nlp (Language): The pipeline.
    texts (List[str]): The reports.
    components (Iterable[str]): The components to run; the others are disabled.
    batch_size (int): Docs per batch.
    RETURNS (Tuple[float, float]): Reports per second of wall-clock time and per second of
        this process's CPU time (which other jobs on the machine slow down less).
    """
    disable = [name for name in nlp.pipe_names if name not in components]
    wall, cpu = time.perf_counter(), time.process_time()
    count = sum(1 for _ in nlp.pipe(texts, batch_size=batch_size, disable=disable))
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def same_tok2vec(args: argparse.Namespace) -> None:
    """Time tok2vec alone and each head over it, interleaved, in this process; print a table."""
    texts = load_texts(args.input, args.text_key, args.n, load_schema(args.schema))
    nlp = spacy.load(args.model)
    add_textcat_head(nlp, args.model)
    list(nlp.pipe(texts, batch_size=args.batch_size))  # creates every lexeme, warms caches
    runs: Dict[str, List[Tuple[float, float]]] = {name: [] for name in SAME_TOK2VEC}
    for _ in range(args.repeats):
        for name, components in SAME_TOK2VEC.items():
            runs[name].append(rates(nlp, texts, components, args.batch_size))
    rows = []
    for name, timed in runs.items():
        wall = statistics.median(w for w, _ in timed)
        cpu = statistics.median(c for _, c in timed)
        each = " ".join(f"{w:.0f}" for w, _ in timed)
        # CPU ms per report beyond the tok2vec-alone pass of the same round.
        extra = [1000 / c - 1000 / t for (_, c), (_, t) in zip(timed, runs["tok2vec"])]
        head_ms = "" if name == "tok2vec" else f"{statistics.median(extra):.3f}"
        rows.append([name, f"{wall:.1f}", each, f"{cpu:.1f}", head_ms])
    headers = ["components", "reports/s (median)", "each round", "per CPU s", "head CPU ms"]
    print_table(headers, rows)
    pairs = list(zip(runs["radlabels"], runs["textcat_multilabel"]))
    for index, unit in ((0, "reports/s"), (1, "reports per CPU s")):
        ratios = [radlabels[index] / textcat[index] for radlabels, textcat in pairs]
        print(
            f"radlabels / textcat_multilabel {unit}, per round: median "
            f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, default=None, help="JSONL of reports")
    parser.add_argument("--text-key", default="text", help="the JSONL key of the report text")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="labels (and synthesis)")
    parser.add_argument("--n", type=int, default=2000, help="number of reports")
    parser.add_argument("--n-process", type=int, nargs="+", default=[1])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--model", default=None, help="a trained radlabels pipeline")
    parser.add_argument("--pipelines", nargs="+", choices=PIPELINES, default=list(PIPELINES))
    parser.add_argument(
        "--same-tok2vec", action="store_true", help="both heads over --model's tok2vec"
    )
    parser.add_argument("--repeats", type=int, default=5, help="rounds for --same-tok2vec")
    parser.add_argument("--worker", choices=PIPELINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.n_process = args.n_process[0]
        return worker(args)
    source = args.input or f"synthetic ({args.schema.name})"
    print(f"{args.n} reports from {source}, batch size {args.batch_size}")
    if args.same_tok2vec:
        if not args.model or args.n_process != [1] or args.repeats < 1:
            parser.error("--same-tok2vec needs --model, one process and --repeats >= 1")
        return same_tok2vec(args)
    rows = []
    for n_process in args.n_process:
        for name in args.pipelines:
            cmd = [sys.executable, __file__, "--worker", name, "--n", str(args.n),
                   "--n-process", str(n_process), "--batch-size", str(args.batch_size),
                   "--schema", str(args.schema), "--text-key", args.text_key]  # fmt: skip
            if args.input:
                cmd += ["--input", str(args.input)]
            if args.model:
                cmd += ["--model", args.model]
            run = subprocess.run(cmd, check=True, capture_output=True, text=True)
            result = json.loads(run.stdout.splitlines()[-1])
            rate = result["docs"] / result["seconds"]
            rows.append([name, n_process, f"{rate:.1f}", f"{result['peak_mib']:.0f}"])
            print(f"{name} ({n_process} proc): {rate:.1f} reports/s", flush=True)
    print_table(["pipeline", "processes", "reports/s", "peak RSS MiB"], rows)


if __name__ == "__main__":
    main()
