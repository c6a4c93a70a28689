"""Reports per second and peak memory: radlabels, textcat_multilabel and the rule baseline.

radlabels and textcat_multilabel are built from configs/cpu.cfg (tok2vec component +
listener); the textcat_multilabel one swaps the radlabels head for spaCy's TextCatReduce
over the same tok2vec (common.textcat_config). The rule baseline is rule_baseline.py's
entity_ruler + negex pipeline. All take their labels from --schema. Untrained weights
cost the same time as trained ones; pass --model to time a trained radlabels pipeline.
Each measurement runs in a fresh process, so peak memory (the largest process's peak
RSS, getrusage) is its own.

    python benchmarks/throughput.py                          # 2,000 synthetic head CT reports
    python benchmarks/throughput.py --input ../shared/data/openi/openi.jsonl --n 5000 \\
        --schema assets/schemas/chest_xray.yml --n-process 1 2
    python benchmarks/throughput.py --model training/model-best   # a trained radlabels
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import spacy
from common import CPU_CONFIG, ROOT, print_table, radlabels_config, read_jsonl, textcat_config
from rule_baseline import build_rule_baseline
from spacy.language import Language

from spacy_radlabels.schema import Schema, load_schema

SCHEMA = ROOT / "assets" / "schemas" / "head_ct.yml"
PIPELINES = ("radlabels", "textcat_multilabel", "rule_baseline")


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
    parser.add_argument("--worker", choices=PIPELINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.n_process = args.n_process[0]
        return worker(args)
    source = args.input or f"synthetic ({args.schema.name})"
    print(f"{args.n} reports from {source}, batch size {args.batch_size}")
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
