"""Corpus files: train/dev/test_heldout `.spacy` DocBins with `.jsonl` twins, mixing in
hand-written training cases and real reports.

Every output is a pure function of the schema, templates, sizes and seed: the same inputs
give byte-identical files.
"""

import json
import math
import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from srsly import msgpack

from ..annotations import read_annotated
from ..schema import Schema
from .generator import ReportGenerator
from .templates import Templates

# One corpus entry: its id and its doc, gold in doc._.labels.
Entry = Tuple[str, Doc]
SPLITS = ("train", "dev", "test_heldout")
# Ids of hand-written training cases in a corpus start with this: "case-<id>".
CASE_ID_PREFIX = "case-"
# Default share of short items: on head CT it took spurious positives on hand-written short
# sentences from 11-22% to under 1%; 0.25 lost more target accuracy on them.
SHORT_RATIO = 0.1
# Default share of carrier items (one finding among neutral filler words, see the generator).
CARRIER_RATIO = 0.0


class RealCorpusError(ValueError):
    """A real-report `.spacy` file that cannot be mixed in; names the file and doc."""


def generate_entries(
    nlp: Language, generator: ReportGenerator, n: int, seed: str, prefix: str
) -> List[Entry]:
    """Render n synthetic reports as docs with gold.

    nlp (Language): Supplies the tokenizer.
    generator (ReportGenerator): Renders text and gold.
    n (int): How many reports.
    seed (str): Seeds this stream (str seeds hash the same in every process).
    prefix (str): Id prefix, e.g. "synth-train".
    RETURNS (List[Entry]): (id, doc) pairs.
    """
    rng = random.Random(seed)
    entries = []
    for i in range(n):
        text, gold = generator.generate(rng)
        doc = nlp.make_doc(text)
        doc._.labels = gold
        entries.append((f"{prefix}-{i:06d}", doc))
    return entries


def read_real(path: Union[str, Path], nlp: Language, schema: Schema) -> List[Entry]:
    """Read a user's annotated `.spacy` file and check its gold against the schema.

    path (Union[str, Path]): A DocBin made with `python -m spacy_radlabels convert`.
    nlp (Language): Supplies the vocab.
    schema (Schema): The labels and states the gold may use.
    RETURNS (List[Entry]): ("real-<index>", doc) pairs.
    """
    path = Path(path)
    if not path.exists() or path.suffix != ".spacy":
        raise RealCorpusError(
            f"{path}: not found or not a .spacy file. Make one with "
            "`python -m spacy_radlabels convert annotated.jsonl real.spacy "
            "--schema SCHEMA`."
        )
    docs = list(DocBin(store_user_data=True).from_disk(path).get_docs(nlp.vocab))
    if not docs:
        raise RealCorpusError(f"{path}: the file holds no docs.")
    for index, doc in enumerate(docs):
        gold = doc._.labels
        if not gold:
            raise RealCorpusError(
                f"{path}, doc {index}: no gold in doc._.labels. Convert the "
                "annotations with `python -m spacy_radlabels convert`, which "
                "stores them in user data."
            )
        for label, state in gold.items():
            if label not in schema.label_specs:
                raise RealCorpusError(
                    f"{path}, doc {index}: label '{label}' is not in schema "
                    f"{schema.path}. Add it to the schema or drop it."
                )
            if state not in schema.states:
                raise RealCorpusError(
                    f"{path}, doc {index}: label '{label}' has state "
                    f"'{state}'; the schema allows {schema.states}."
                )
    return [(f"real-{i:06d}", doc) for i, doc in enumerate(docs)]


def read_cases(path: Path, nlp: Language, schema: Schema) -> List[Entry]:
    """Read hand-written training cases: a JSONL file of reports with every label's state.

    path (Path): The file a template file's `train_cases` names.
    nlp (Language): Supplies the tokenizer.
    schema (Schema): The labels and states the gold must use.
    RETURNS (List[Entry]): ("case-<id>", doc) pairs, in file order.
    """
    entries = []
    for report in read_annotated(path, schema.labels, schema.states, coding="states"):
        missing = [label for label in schema.labels if label not in report.labels]
        if missing:
            raise RealCorpusError(
                f"{path}, line {report.line}: case {report.id} gives no state for {missing}. "
                "A training case states every label of the schema."
            )
        doc = nlp.make_doc(report.text)
        doc._.labels = dict(report.labels)
        entries.append((f"{CASE_ID_PREFIX}{report.id}", doc))
    if not entries:
        raise RealCorpusError(f"{path}: the file holds no cases.")
    return entries


def mix_annotated(
    train: List[Entry],
    dev: List[Entry],
    annotated: List[Entry],
    ratio: float,
    dev_fraction: float,
    rng: random.Random,
) -> Tuple[List[Entry], List[Entry], Dict[str, int]]:
    """Put dev_fraction of the annotated reports in dev and mix the rest into train.

    train (List[Entry]): The train entries so far.
    dev (List[Entry]): The dev entries so far.
    annotated (List[Entry]): Real reports or hand-written cases, shuffled here.
    ratio (float): Their share of the mixed train set, in [0, 1).
    dev_fraction (float): Their share put in dev.
    rng (random.Random): The random source.
    RETURNS (Tuple[List[Entry], List[Entry], Dict[str, int]]): Train, dev, and how many
        annotated entries each holds.
    """
    annotated = list(annotated)
    rng.shuffle(annotated)
    n_dev = round(len(annotated) * dev_fraction)
    mixed = mix_real(train, annotated[n_dev:], ratio, rng)
    return mixed, dev + annotated[:n_dev], {"train": len(mixed) - len(train), "dev": n_dev}


def mix_real(
    synthetic: Sequence[Entry], real: Sequence[Entry], ratio: float, rng: random.Random
) -> List[Entry]:
    """Add real reports to synthetic ones so that real make up `ratio` of the result.

    Real reports are repeated (each about equally often) when there are too few, or a
    sample is taken when there are more than needed; the result is shuffled.

    synthetic (Sequence[Entry]): The synthetic entries, all kept.
    real (Sequence[Entry]): The real entries.
    ratio (float): Share of real reports in the result, in [0, 1).
    rng (random.Random): The random source.
    RETURNS (List[Entry]): The mixed, shuffled entries.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"real ratio must be in [0, 1), got {ratio}.")
    n_real = round(ratio / (1.0 - ratio) * len(synthetic)) if real else 0
    picked: List[Entry] = []
    for _ in range(math.ceil(n_real / len(real)) if real else 0):
        copies = list(real)
        rng.shuffle(copies)
        picked.extend(copies)
    mixed = list(synthetic) + picked[:n_real]
    rng.shuffle(mixed)
    return mixed


def write_split(entries: Sequence[Entry], path: Path) -> None:
    """Write entries to `<path>.spacy` and a readable `<path>.jsonl` twin.

    entries (Sequence[Entry]): (id, doc) pairs with gold in doc._.labels.
    path (Path): The output path without suffix, e.g. corpus/train.
    """
    doc_bin = DocBin(store_user_data=False)
    lines = []
    for entry_id, doc in entries:
        doc_bin.add(doc)
        record = {"id": entry_id, "text": doc.text, "labels": doc._.labels}
        lines.append(json.dumps(record, ensure_ascii=False))
    # DocBin.add builds a msgpack Packer per doc (a registry lookup each, most of the write
    # time); one Packer gives the same bytes.
    packer = msgpack.Packer(use_bin_type=True)
    doc_bin.store_user_data = True
    doc_bin.user_data = [packer.pack(doc.user_data) for _, doc in entries]
    doc_bin.to_disk(path.with_suffix(".spacy"))
    path.with_suffix(".jsonl").write_text("\n".join(lines) + "\n", encoding="utf8")


def label_counts(entries: Sequence[Entry], labels: Sequence[str]) -> Dict[str, Dict[str, int]]:
    """Count the gold states of every label.

    entries (Sequence[Entry]): (id, doc) pairs.
    labels (Sequence[str]): The labels to count, in output order.
    RETURNS (Dict[str, Dict[str, int]]): label -> state -> number of docs.
    """
    counts: Dict[str, Dict[str, int]] = {label: {} for label in labels}
    for _, doc in entries:
        for label, state in (doc._.labels or {}).items():
            counts[label][state] = counts[label].get(state, 0) + 1
    return counts


def write_corpus(
    schema: Schema,
    templates: Templates,
    output_dir: Union[str, Path],
    n: int,
    seed: int = 0,
    dev_fraction: float = 0.1,
    n_heldout: int = 1000,
    real: Optional[Union[str, Path]] = None,
    real_ratio: float = 0.3,
    lang: str = "en",
    short_ratio: float = SHORT_RATIO,
    carrier_ratio: float = CARRIER_RATIO,
) -> Dict[str, object]:
    """Generate and write train, dev and held-out-template test corpora.

    schema (Schema): The labels.
    templates (Templates): The templates; held-out families only render test_heldout, and
        their hand-written training cases (`train_cases`) go to train and dev only.
    output_dir (Union[str, Path]): Where train/dev/test_heldout .spacy + .jsonl go.
    n (int): Synthetic reports in train + dev.
    seed (int): The seed; the same seed gives byte-identical files.
    dev_fraction (float): Share of the n reports (and of real reports) put in dev.
    n_heldout (int): Reports in test_heldout.
    real (Optional[Union[str, Path]]): A user's annotated .spacy file to mix in.
    real_ratio (float): Share of real reports in the mixed train set (with the templates'
        training cases), in [0, 1).
    lang (str): Language of the tokenizer.
    short_ratio (float): Share of synthetic items that are short text (impressions,
        sentences, fragments, label-free text) instead of whole reports, in [0, 1].
    carrier_ratio (float): Share of synthetic items that state one finding among neutral
        filler words, so that only a cue makes it negative or uncertain, in [0, 1].
    RETURNS (Dict[str, object]): What was written: sizes, seed and train label counts
        (also saved as meta.json).
    """
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"dev fraction must be in [0, 1), got {dev_fraction}.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank(lang)
    seen = ReportGenerator(schema, templates, short_ratio=short_ratio, carrier_ratio=carrier_ratio)
    n_dev = round(n * dev_fraction)
    train = generate_entries(nlp, seen, n - n_dev, f"{seed}-train", "synth-train")
    dev = generate_entries(nlp, seen, n_dev, f"{seed}-dev", "synth-dev")
    heldout = ReportGenerator(
        schema, templates, heldout=True, short_ratio=short_ratio, carrier_ratio=carrier_ratio
    )
    test = generate_entries(nlp, heldout, n_heldout, f"{seed}-heldout", "synth-heldout")
    n_cases = {"cases": 0, "train": 0, "dev": 0}
    if templates.train_cases is not None:
        cases = read_cases(templates.train_cases, nlp, schema)
        n_cases["cases"] = len(cases)
        train, dev, mixed = mix_annotated(
            train,
            dev,
            cases,
            templates.train_cases_share,
            dev_fraction,
            random.Random(f"{seed}-cases"),
        )
        n_cases.update(mixed)
    n_real = {"train": 0, "dev": 0}
    if real is not None:
        real_entries = read_real(real, nlp, schema)
        train, dev, n_real = mix_annotated(
            train, dev, real_entries, real_ratio, dev_fraction, random.Random(f"{seed}-real")
        )
    for name, entries in zip(SPLITS, (train, dev, test)):
        write_split(entries, output_dir / name)
    meta: Dict[str, object] = {
        "schema": schema.name,
        "templates": templates.name,
        "seed": seed,
        "short_ratio": short_ratio,
        "carrier_ratio": carrier_ratio,
        "sizes": {"train": len(train), "dev": len(dev), "test_heldout": len(test)},
        "train_cases": n_cases,
        "real": n_real,
        "train_label_counts": label_counts(train, schema.labels),
    }
    (output_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf8")
    return meta
