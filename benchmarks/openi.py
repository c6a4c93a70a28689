"""Open-i chest X-ray reports: a chest model trained on synthetic reports vs a rule baseline.

Gold: NegBio's 14 labels from the Open-i collection's manual MeSH indexing, positive-only
(a label is indexed for a report or not). Scored: F1 of "positive" per label, micro and
macro, on NegBio's test split (`negbio_test`, 771 reports), and for the systems that saw no
real report also on all reports. Systems, in one run:

- rule baseline: entity_ruler over the chest schema's variants + negspacy (rule_baseline.py).
- radlabels, synthetic only: configs/cpu-novectors.cfg trained on `synth` reports from the chest
  schema (or a trained pipeline given with --model).
- radlabels, synthetic + N real: the same, with N Open-i reports from outside the test
  split mixed into training (`write_corpus(real=...)`, as `synth --real` does).

Labels are mapped from NegBio's to the chest schema's with NEGBIO_TO_SCHEMA; the rest are
not scored. "positive" is the radlabels state; "uncertain" does not count. A last row
counts the reports NegBio calls normal on which a system states or hedges any finding,
scored or not: the findings a system invents.

    python benchmarks/openi.py
    python benchmarks/openi.py --model training/chest/model-best --n-real 100 300
    python benchmarks/openi.py --model training/chest-cpu/model-best --n-real \
        --metrics metrics/chest-cpu/openi/metrics.json
    python benchmarks/openi.py --model training/chest-cpu/model-best --n-real --split dev

`--split dev` scores the 3,080 reports outside negbio_test instead: the split to tune the
templates on, so that negbio_test stays a test set.
"""

import random
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set

import spacy
import srsly
from common import (
    CPU_CONFIG,
    DATA,
    ROOT,
    labels_in,
    parse_overrides,
    print_table,
    radlabels_config,
    read_jsonl,
    score_positive,
    train_overrides,
    train_pipeline,
    training_parser,
)
from rule_baseline import build_rule_baseline, positive_labels
from spacy.language import Language
from spacy.tokens import DocBin

from spacy_radlabels.schema import Schema, load_schema
from spacy_radlabels.synth import load_templates, write_corpus
from spacy_radlabels.synth.generator import FINDING_GROUP

# NegBio label -> chest schema label. Not mapped: Infiltration (CheXpert's lung_opacity is
# far broader: every atelectasis, edema, consolidation, pneumonia and lesion is one),
# Emphysema and Hernia (no CheXpert observation). Nodule and Mass are both lung lesions;
# Fibrosis is pleural_other as in the CheXpert labeler's mention lists. NegBio's "normal"
# (no MeSH finding at all) is stricter than No Finding, which the CheXpert labeler's "other
# findings" (granuloma, emphysema, degenerative change...) end but e.g. a tortuous aorta,
# surgical clips or a device do not.
NEGBIO_TO_SCHEMA = {
    "normal": "no_finding",
    "Cardiomegaly": "cardiomegaly",
    "Atelectasis": "atelectasis",
    "Effusion": "pleural_effusion",
    "Nodule": "lung_lesion",
    "Mass": "lung_lesion",
    "Pneumonia": "pneumonia",
    "Consolidation": "consolidation",
    "Edema": "edema",
    "Pneumothorax": "pneumothorax",
    "Pleural_Thickening": "pleural_other",
    "Fibrosis": "pleural_other",
}
SCHEMA = ROOT / "assets" / "schemas" / "chest_xray.yml"
# The states that assert a finding, hedged or not.
STATED = ("positive", "uncertain")


def mapped_gold(record: Dict) -> Set[str]:
    """Map a report's NegBio labels to the schema's.

    record (Dict): An openi.jsonl record.
    RETURNS (Set[str]): The schema labels positive for the report.
    """
    return {NEGBIO_TO_SCHEMA[label] for label in record["positive"] if label in NEGBIO_TO_SCHEMA}


def write_real(
    records: Sequence[Dict], scored: Sequence[str], schema: Schema, path: Path, real_gold: str
) -> Path:
    """Write real reports with gold for the scored labels, as `radlabels convert` would.

    An indexed label is positive. A scored label that is not indexed gets the schema's
    not-mentioned state with real_gold "absent", and no gold with "positive-only" (the
    index cannot tell negative, hedged and unmentioned apart). Labels NegBio has no
    counterpart for are left unannotated. Unannotated labels are masked in the loss; a
    report left with no gold at all (positive-only, nothing indexed) is not written.

    records (Sequence[Dict]): openi.jsonl records.
    scored (Sequence[str]): The schema labels NegBio's gold maps to.
    schema (Schema): The chest schema.
    path (Path): The .spacy file to write.
    real_gold (str): "absent" or "positive-only".
    RETURNS (Path): The path.
    """
    nlp = spacy.blank("en")
    doc_bin = DocBin(store_user_data=True)
    for record in records:
        doc = nlp.make_doc(record["text"])
        gold = mapped_gold(record)
        doc._.labels = {
            label: "positive" if label in gold else schema.negative_state
            for label in scored
            if label in gold or real_gold == "absent"
        }
        if doc._.labels:
            doc_bin.add(doc)
    doc_bin.to_disk(path)
    return path


def train_chest(
    schema: Schema,
    corpus: Path,
    overrides: Dict[str, object],
    max_steps: Optional[int],
    log: Optional[Path],
    gpu_id: int,
) -> Language:
    """Train radlabels (configs/cpu-novectors.cfg) on a corpus written by `write_corpus`.

    schema (Schema): Labels, states and hierarchy.
    corpus (Path): Folder with train.spacy and dev.spacy.
    overrides (Dict[str, object]): Config overrides from the command line.
    max_steps (Optional[int]): Override training.max_steps.
    log (Optional[Path]): Training log file.
    gpu_id (int): The GPU to train on, -1 for CPU.
    RETURNS (Language): The best pipeline on the (synthetic or mixed) dev set.
    """
    all_overrides = train_overrides(
        corpus / "train.spacy", corpus / "dev.spacy", max_steps, overrides
    )
    config = radlabels_config(
        CPU_CONFIG, all_overrides, schema.states, schema.labels, schema.hierarchy
    )
    return train_pipeline(config, corpus / "model", log, gpu_id)


def main() -> None:
    parser = training_parser(__doc__, DATA / "openi" / "openi.jsonl")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the chest schema")
    parser.add_argument("--n-synth", type=int, default=10000, help="synthetic train+dev reports")
    parser.add_argument("--n-real", type=int, nargs="*", default=[300], help="real reports")
    parser.add_argument("--real-ratio", type=float, default=0.3, help="real share of train")
    parser.add_argument(
        "--real-gold",
        choices=["absent", "positive-only"],
        default="absent",
        help="gold of a scored label the real report is not indexed for (see write_real)",
    )
    parser.add_argument("--max-steps", type=int, default=None, help="training.max_steps")
    parser.add_argument("--limit", type=int, default=None, help="use the first N reports")
    parser.add_argument("--model", type=Path, default=None, help="a trained chest pipeline")
    parser.add_argument("--seed", type=int, default=0, help="synthetic corpus and real sample")
    parser.add_argument(
        "--metrics", type=Path, default=None, help="write the scored split's scores here (JSON)"
    )
    parser.add_argument(
        "--split",
        choices=["test", "dev"],
        default="test",
        help="score negbio_test (test) or the reports outside it (dev, for tuning)",
    )
    args, rest = parser.parse_known_args()
    if args.split == "dev" and args.n_real:
        # The real reports mixed into training are drawn from the dev split.
        parser.error("--split dev scores the reports --n-real N trains on: pass --n-real alone")
    overrides = parse_overrides(rest)
    schema = load_schema(args.schema)
    templates = load_templates(schema.templates, schema)
    scored = [label for label in schema.labels if label in NEGBIO_TO_SCHEMA.values()]
    records = read_jsonl(args.data, args.limit)
    test = [r for r in records if r["negbio_test"]]
    pool = [r for r in records if not r["negbio_test"]]
    print(f"{len(records)} reports ({len(test)} negbio_test), scored labels: {scored}")
    split_name = "negbio_test"
    if args.split == "dev":
        test, split_name = pool, "outside negbio_test (dev)"
    rule = build_rule_baseline(schema)
    systems: Dict[str, Language] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.output or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.model is not None:
            systems["radlabels synthetic"] = spacy.load(args.model)
        else:
            synth_dir = workdir / "synth"
            write_corpus(schema, templates, synth_dir, n=args.n_synth, seed=args.seed, n_heldout=0)
            systems["radlabels synthetic"] = train_chest(
                schema, synth_dir, overrides, args.max_steps, args.log, args.gpu_id
            )
        sample = list(pool)
        random.Random(args.seed).shuffle(sample)
        for n_real in args.n_real:
            mixed_dir = workdir / f"mixed{n_real}"
            real = write_real(
                sample[:n_real], scored, schema, workdir / f"real{n_real}.spacy", args.real_gold
            )
            write_corpus(
                schema,
                templates,
                mixed_dir,
                n=args.n_synth,
                seed=args.seed,
                n_heldout=0,
                real=real,
                real_ratio=args.real_ratio,
            )
            systems[f"synthetic + {n_real} real"] = train_chest(
                schema, mixed_dir, overrides, args.max_steps, args.log, args.gpu_id
            )
    results = {"rule baseline": _score_rule(rule, schema, test, scored)}
    for name, nlp in systems.items():
        results[name] = _score_model(nlp, schema, test, scored)
    print(f"\n{split_name} ({len(test)} reports): F1 of positive (P / R)")
    _print_results(results, scored, test)
    if args.metrics is not None:
        # The model card's Open-i table (`python -m spacy_radlabels card --metrics`) reads it.
        args.metrics.parent.mkdir(parents=True, exist_ok=True)
        summary = {"split": split_name, "n_reports": len(test), "systems": results}
        srsly.write_json(args.metrics, summary)
    if args.split == "dev":
        # All reports include negbio_test, which tuning must not see.
        return
    print(f"\nall {len(records)} reports (systems that saw no real report)")
    unseen = {"rule baseline": _score_rule(rule, schema, records, scored)}
    unseen["radlabels synthetic"] = _score_model(
        systems["radlabels synthetic"], schema, records, scored
    )
    _print_results(unseen, scored, records)


def normal_with_finding(
    records: Sequence[Dict], stated: Sequence[Set[str]], schema: Schema
) -> List[int]:
    """Count the reports indexed as normal on which a system states a finding anyway.

    Every finding label counts, scored or not (lung_opacity, fracture...), and so does a
    hedge: a normal report read as "possible effusion" is a finding invented.

    records (Sequence[Dict]): openi.jsonl records.
    stated (Sequence[Set[str]]): Per record, the labels the system states positive or
        uncertain (the rule baseline knows no uncertain).
    schema (Schema): The chest schema, for the finding group.
    RETURNS (List[int]): [reports with a stated finding, reports indexed as normal].
    """
    normal = [labels for r, labels in zip(records, stated) if "normal" in r["positive"]]
    invented = sum(any(schema.group(lab) == FINDING_GROUP for lab in labels) for labels in normal)
    return [invented, len(normal)]


def _score_model(
    nlp: Language, schema: Schema, records: Sequence[Dict], scored: Sequence[str]
) -> Dict[str, object]:
    docs = list(nlp.pipe([r["text"] for r in records], batch_size=64))
    preds = [labels_in(doc, ("positive",)) for doc in docs]
    scores = score_positive([mapped_gold(r) for r in records], preds, scored)
    stated = [labels_in(doc, STATED) for doc in docs]
    scores["normal_with_finding"] = normal_with_finding(records, stated, schema)
    return scores


def _score_rule(
    rule: Language, schema: Schema, records: Sequence[Dict], scored: Sequence[str]
) -> Dict[str, object]:
    preds = [positive_labels(doc, schema) for doc in rule.pipe(r["text"] for r in records)]
    scores = score_positive([mapped_gold(r) for r in records], preds, scored)
    scores["normal_with_finding"] = normal_with_finding(records, preds, schema)
    return scores


def _print_results(
    results: Dict[str, Dict[str, object]], scored: Sequence[str], records: Sequence[Dict]
) -> None:
    support = {label: sum(label in mapped_gold(r) for r in records) for label in scored}
    rows: List[List[object]] = []
    for label in scored:
        cells = [f"{s['per_label'][label]['f']:.3f} ({s['per_label'][label]['p']:.2f} / "
                 f"{s['per_label'][label]['r']:.2f})" for s in results.values()]  # fmt: skip
        rows.append([label, support[label], *cells])
    rows.append(["micro-F1", "", *(s["micro_f"] for s in results.values())])
    rows.append(["macro-F1", "", *(s["macro_f"] for s in results.values())])
    # Positive on a label the gold does not name: the invented findings, system by system.
    rows.append(["spurious positives", "", *(str(s["spurious"]) for s in results.values())])
    rows.append(["spurious rate", "", *(s["spurious_rate"] for s in results.values())])
    # Reports NegBio calls normal on which a system states (or hedges) a finding.
    normal = ("{} / {}".format(*s["normal_with_finding"]) for s in results.values())
    rows.append(["normal reports with a finding", "", *normal])
    print_table(["label", "gold", *results], rows)


if __name__ == "__main__":
    main()
