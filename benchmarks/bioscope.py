"""BioScope assertion benchmark: is a chest finding in a real sentence stated, negated or hedged?

Data: the clinical part of BioScope (`bioscope_clinical/sentences.jsonl`), the CMC 2007
radiology reports' sentences with linguists' negation and speculation cues and scopes. The
test half (`cmc_split == "test"`) is read; `--split train` reads the train half instead, for
development (the templates' cue frames draw on it). Units: each (sentence, label) where a variant
of a chest-schema label occurs (the rule baseline's entity_ruler finds them; `no_finding`'s
phrases are not findings and are left out), except inside UNMENTIONS, the longer phrases of
the renal and history sentences that contain a variant but name no chest finding (as the
CheXpert labeler's unmention lists do). Gold per mention: negative inside a negation
scope (negation wins: BioScope also marks the "or" of "no infiltrate or effusion" as
speculation), else uncertain inside a speculation scope, else positive; a label mentioned
twice in a sentence takes the strongest state (positive > uncertain > negative), as the
CheXpert labeler aggregates. A second table follows DESIGN.md's convention, in which a
hedge that only commits ("consistent with", "likely"... COMMITTED_CUES) is positive.

Systems, each sentence on its own:
- radlabels: a chest pipeline (--model), `doc._.labels[label]`; any other state (e.g.
  "absent") counts as wrong (column "other": how many).
- negspacy: the rule baseline's negex (rule_baseline.py): negative or positive.
- medspaCy ConText (default English rules) over the same mentions: uncertain when it marks a
  mention uncertain or hypothetical, else negative when negated, else positive.

medspaCy 1.3.1 pins spacy<3.8 on Python < 3.12, so it does not go into the project's
environment. On Python 3.12+ `pip install medspacy` works beside spaCy 3.8; on 3.11, a
separate venv that sees the project's packages (its `pip check` then reports medspaCy's
pin, which ConText does not need):

    python -m venv .bench-venv
    python -c "import site; print(site.getsitepackages()[0])" \\
        > .bench-venv/lib/python3.11/site-packages/project-venv.pth
    .bench-venv/bin/pip install --no-deps medspacy==1.3.1 medspacy_quickumls==3.2 \\
        PyRuSH==1.0.13 pysbd==0.3.4 PyFastNER quicksectx pysimstring loguru nltk six unidecode
    .bench-venv/bin/python benchmarks/bioscope.py --model training/chest-cpu/model-best

Without medspaCy (or without --model) the script says which system it skipped.
"""

import argparse
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from common import DATA, ROOT, print_table, read_jsonl
from rule_baseline import build_rule_baseline
from spacy.language import Language
from spacy.tokens import Span

from spacy_radlabels.loading import load_pipeline
from spacy_radlabels.schema import load_schema
from spacy_radlabels.scorer import SCORE_ACC, SCORE_PER_LABEL, score_label_pairs

SCHEMA = ROOT / "assets" / "schemas" / "chest_xray.yml"
GOLD_STATES = ["positive", "uncertain", "negative"]
STRENGTH = {"negative": 0, "uncertain": 1, "positive": 2}
# BioScope speculation cues that DESIGN.md's convention reads as a committed finding.
COMMITTED_CUES = frozenset(
    ["consistent with", "compatible with", "in keeping with", "likely", "probable", "probably"]
)
# Phrases that contain a chest variant ("infection", "fibrosis", "mass") but are not chest
# findings; the entity_ruler prefers these longer matches, and their mentions are dropped.
UNMENTIONS = [
    "urinary tract infection",
    "urinary tract infections",
    "cystic fibrosis",
    "renal mass",
    "abdominal mass",
    "pelvic mass",
]
UNMENTION = "UNMENTION"
# The one pseudo-label under which score_label_pairs pools every unit.
MENTION = "mention"
Scope = Tuple[str, str, int, int]


def scopes_of(record: Dict) -> List[Scope]:
    """Locate a sentence's cue scopes as character offsets.

    record (Dict): A sentences.jsonl record.
    RETURNS (List[Scope]): (type, lower-case cue, start, end) per cue.
    """
    scopes = []
    for cue in record["cues"]:
        start = record["text"].find(cue["scope"])
        if start < 0:
            raise SystemExit(
                f"doc {record['doc_id']} {record['sent_id']}: scope {cue['scope']!r} is not in "
                "the sentence text; is this BioScope's sentences.jsonl (README.md)?"
            )
        scopes.append((cue["type"], cue["cue"].lower(), start, start + len(cue["scope"])))
    return scopes


def gold_state(start: int, scopes: Sequence[Scope], committed: frozenset = frozenset()) -> str:
    """The gold state of a mention from the scopes around it.

    start (int): Character offset of the mention in the sentence.
    scopes (Sequence[Scope]): The sentence's scopes (`scopes_of`).
    committed (frozenset): Speculation cues read as positive.
    RETURNS (str): "negative", "uncertain" or "positive".
    """
    around = [(kind, cue) for kind, cue, begin, end in scopes if begin <= start < end]
    if any(kind == "negation" for kind, _ in around):
        return "negative"
    if any(kind == "speculation" and cue not in committed for kind, cue in around):
        return "uncertain"
    return "positive"


def strongest(states: Sequence[str]) -> str:
    """Aggregate a label's mention states in one sentence (positive > uncertain > negative)."""
    return max(states, key=STRENGTH.__getitem__)


def context_state(ent: Span) -> str:
    """Read medspaCy ConText's attributes of a mention as a state."""
    if ent._.is_uncertain or ent._.is_hypothetical:
        return "uncertain"
    return "negative" if ent._.is_negated else "positive"


def add_context(nlp: Language) -> bool:
    """Append medspaCy's ConText to the rule pipeline, if medspaCy can be imported.

    nlp (Language): The rule baseline (its entity_ruler supplies the mentions).
    RETURNS (bool): Whether ConText was added.
    """
    try:
        import medspacy.context  # noqa: F401  (registers the "medspacy_context" factory)
    except ImportError:
        return False
    nlp.add_pipe("medspacy_context")
    return True


def collect_units(
    records: Sequence[Dict], rules: Language, with_context: bool
) -> List[Dict[str, object]]:
    """Find the (sentence, label) units with their gold and the rule systems' states.

    records (Sequence[Dict]): The sentences.
    rules (Language): The rule baseline, with ConText appended if `with_context`.
    with_context (bool): Whether to read ConText's states.
    RETURNS (List[Dict[str, object]]): One dict per unit: text, label, the two golds and
        the states of negspacy (and ConText).
    """
    units = []
    for record, doc in zip(records, rules.pipe(r["text"] for r in records)):
        scopes = scopes_of(record)
        mentions: Dict[str, List[Span]] = defaultdict(list)
        for ent in doc.ents:
            if ent.label_ != UNMENTION:
                mentions[ent.label_].append(ent)
        for label, ents in mentions.items():
            unit: Dict[str, object] = {
                "text": record["text"],
                "part": record["part"],
                "label": label,
                "bioscope": strongest([gold_state(e.start_char, scopes) for e in ents]),
                "design": strongest(
                    [gold_state(e.start_char, scopes, COMMITTED_CUES) for e in ents]
                ),
                "negspacy": strongest(["negative" if e._.negex else "positive" for e in ents]),
            }
            if with_context:
                unit["medspaCy ConText"] = strongest([context_state(e) for e in ents])
            units.append(unit)
    return units


def radlabels_states(model: Path, units: Sequence[Dict[str, object]], gpu_id: int) -> List[str]:
    """Label each unit's sentence with a radlabels pipeline and read the unit's label.

    model (Path): A chest pipeline directory or package name.
    units (Sequence[Dict[str, object]]): From `collect_units`.
    gpu_id (int): GPU to run on, or -1.
    RETURNS (List[str]): The predicted state per unit.
    """
    nlp, pipe = load_pipeline(model, gpu_id)
    missing = sorted({str(u["label"]) for u in units} - set(pipe.labels))
    if missing:
        raise SystemExit(f"{model}: no label(s) {missing}; pass a chest-schema pipeline.")
    texts = sorted({str(u["text"]) for u in units})
    labelled = {text: doc._.labels for text, doc in zip(texts, nlp.pipe(texts))}
    return [labelled[str(u["text"])][str(u["label"])] for u in units]


def score_rows(units: Sequence[Dict[str, object]], gold: str, systems: Sequence[str]) -> List:
    """One table row per system: accuracy, F1 (P / R) per gold state, other states.

    units (Sequence[Dict[str, object]]): Units with each system's state under its name.
    gold (str): The unit key of the gold ("bioscope" or "design").
    systems (Sequence[str]): The systems to score.
    RETURNS (List): The rows.
    """
    rows = []
    for system in systems:
        predicted = [str(u[system]) for u in units]
        states = GOLD_STATES + sorted(set(predicted) - set(GOLD_STATES))
        pairs = [(MENTION, str(u[gold]), p) for u, p in zip(units, predicted)]
        scores = score_label_pairs(pairs, [MENTION], states)
        per_state = scores[SCORE_PER_LABEL][MENTION]
        cells = [
            f"{per_state[s]['f']:.3f} ({per_state[s]['p']:.2f} / {per_state[s]['r']:.2f})"
            for s in GOLD_STATES
        ]
        other = sum(p not in GOLD_STATES for p in predicted)
        rows.append([system, scores[SCORE_ACC], *cells, other])
    return rows


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = DATA / "bioscope_clinical" / "sentences.jsonl"
    parser.add_argument("--data", type=Path, default=default, help="BioScope sentences.jsonl")
    parser.add_argument("--model", type=Path, default=None, help="a trained chest pipeline")
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the chest schema")
    parser.add_argument(
        "--parts", nargs="+", default=["Impression", "History"], help="report parts to read"
    )
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU for radlabels (-1: CPU)")
    parser.add_argument(
        "--split", choices=["test", "train"], default="test", help="CMC half (train: development)"
    )
    args = parser.parse_args(argv)
    schema = load_schema(args.schema)
    records = [
        r for r in read_jsonl(args.data) if r["cmc_split"] == args.split and r["part"] in args.parts
    ]
    if not records:
        raise SystemExit(
            f"{args.data}: no sentences of the {args.split} half (cmc_split '{args.split}') "
            f"in parts {args.parts}; pass BioScope's sentences.jsonl with --data."
        )
    rules = build_rule_baseline(schema)
    rules.get_pipe("entity_ruler").add_patterns(
        [{"label": UNMENTION, "pattern": phrase} for phrase in UNMENTIONS]
    )
    systems = ["negspacy"]
    if add_context(rules):
        systems.append("medspaCy ConText")
    else:
        print("medspaCy ConText: skipped (medspacy not importable; see this script's docstring)")
    units = collect_units(records, rules, "medspaCy ConText" in systems)
    if args.model is None:
        print("radlabels: skipped (no --model given)")
    else:
        for unit, state in zip(units, radlabels_states(args.model, units, args.gpu_id)):
            unit["radlabels"] = state
        systems.insert(0, "radlabels")
    n_sentences = len({str(u["text"]) for u in units})
    print(
        f"{len(records)} {args.split}-half sentences ({', '.join(args.parts)}), "
        f"{n_sentences} with a chest-schema variant, {len(units)} (sentence, label) units"
    )
    committed = ", ".join(sorted(COMMITTED_CUES))
    for gold, title in [
        ("bioscope", "gold from BioScope's scopes (every speculation cue -> uncertain)"),
        ("design", f"gold by DESIGN.md's convention ({committed} -> positive)"),
    ]:
        support = Counter(str(u[gold]) for u in units)
        print(f"\n{title}: " + ", ".join(f"{s} {support[s]}" for s in GOLD_STATES))
        headers = ["system", "accuracy", *(f"{s} F1 (P / R)" for s in GOLD_STATES), "other"]
        print_table(headers, score_rows(units, gold, systems))
    counts = Counter(str(u["part"]) for u in units)
    parts = sorted(counts)
    print("\naccuracy by report part (BioScope gold; DESIGN.md: clinical details assert nothing)")
    print_table(
        ["system", *(f"{part} ({counts[part]})" for part in parts)],
        [[system, *(part_accuracy(units, system, part) for part in parts)] for system in systems],
    )


def part_accuracy(units: Sequence[Dict[str, object]], system: str, part: str) -> float:
    """The share of a report part's units whose BioScope gold the system's state matches.

    units (Sequence[Dict[str, object]]): Units with each system's state under its name.
    system (str): The system to score.
    part (str): The report part, e.g. "History".
    RETURNS (float): The accuracy.
    """
    scored = [u for u in units if u["part"] == part]
    return sum(u[system] == u["bioscope"] for u in scored) / len(scored)


if __name__ == "__main__":
    main()
