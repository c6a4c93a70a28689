"""Reports per second and peak memory: radlabels vs textcat_multilabel, same tok2vec.

Both pipelines are built from configs/cpu.cfg (tok2vec component + listener); the
textcat_multilabel one swaps the radlabels head for spaCy's TextCatReduce over the same
tok2vec. Each measurement runs in a fresh process so peak memory is its own.

    python benchmarks/throughput.py                          # 2,000 synthetic head CT reports
    python benchmarks/throughput.py --input reports.jsonl --n 5000 --n-process 1 2
    python benchmarks/throughput.py --model training/model-best   # a trained radlabels
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import spacy

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "assets" / "schemas" / "head_ct.yml"
TEMPLATES = ROOT / "assets" / "templates" / "head_ct.yml"
PIPELINES = ("radlabels", "textcat_multilabel")


def load_texts(path: Optional[Path], n: int, seed: int = 0) -> List[str]:
    """Read n report texts from a JSONL file ("text" key), or synthesise head CT reports."""
    if path is not None:
        with path.open(encoding="utf8") as f:
            texts = [json.loads(line)["text"] for line in f if line.strip()]
        return (texts * (n // max(len(texts), 1) + 1))[:n]
    import random

    from spacy_radlabels.schema import load_schema
    from spacy_radlabels.synth import ReportGenerator, load_templates

    schema = load_schema(SCHEMA)
    generator = ReportGenerator(schema, load_templates(TEMPLATES, schema))
    rng = random.Random(seed)
    return [generator.generate(rng)[0] for _ in range(n)]


def build(name: str, labels: List[str], model: Optional[str]):
    """Build and initialize one pipeline from configs/cpu.cfg."""
    if name == "radlabels" and model:
        return spacy.load(model)
    config = spacy.util.load_config(ROOT / "configs" / "cpu.cfg")
    if name == "textcat_multilabel":
        listener = config["components"]["radlabels"]["model"]["tok2vec"]
        del config["components"]["radlabels"]
        config["nlp"]["pipeline"] = ["tok2vec", "textcat_multilabel"]
        config["components"]["textcat_multilabel"] = {
            "factory": "textcat_multilabel",
            "model": {
                "@architectures": "spacy.TextCatReduce.v1",
                "exclusive_classes": False,
                "use_reduce_first": False,
                "use_reduce_last": False,
                "use_reduce_max": False,
                "use_reduce_mean": True,
                "tok2vec": listener,
            },
        }
        config["training"]["score_weights"] = {}
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    head = nlp.get_pipe(nlp.pipe_names[-1])
    for label in labels:
        head.add_label(label)
    nlp.initialize(lambda: [spacy.training.Example.from_dict(nlp.make_doc("x"), {})])
    return nlp


def worker(args: argparse.Namespace) -> None:
    """Time one pipeline on the texts and print a JSON line."""
    from spacy_radlabels.schema import load_schema

    texts = load_texts(args.input, args.n)
    labels = load_schema(SCHEMA).labels
    nlp = build(args.worker, labels, args.model)
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
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--input", type=Path, default=None, help="JSONL with a 'text' key")
    parser.add_argument("--n", type=int, default=2000, help="number of reports")
    parser.add_argument("--n-process", type=int, nargs="+", default=[1])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--model", default=None, help="a trained radlabels pipeline")
    parser.add_argument("--worker", choices=PIPELINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.n_process = args.n_process[0]
        return worker(args)
    print(f"{args.n} reports, batch size {args.batch_size}")
    print(f"{'pipeline':<20} {'procs':>5} {'reports/s':>10} {'peak MiB':>9}")
    for n_process in args.n_process:
        rates = {}
        for name in PIPELINES:
            cmd = [sys.executable, __file__, "--worker", name, "--n", str(args.n),
                   "--n-process", str(n_process), "--batch-size", str(args.batch_size)]  # fmt: skip
            if args.input:
                cmd += ["--input", str(args.input)]
            if args.model:
                cmd += ["--model", args.model]
            result = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[
                    -1
                ]
            )
            rates[name] = result["docs"] / result["seconds"]
            print(f"{name:<20} {n_process:>5} {rates[name]:>10.1f} {result['peak_mib']:>9.0f}")
        ratio = rates["textcat_multilabel"] / rates["radlabels"]
        print(f"time ratio radlabels / textcat_multilabel ({n_process} proc): {ratio:.2f}")


if __name__ == "__main__":
    main()
