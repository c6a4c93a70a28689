"""Shared fixtures: a tiny labelled corpus and a small trained pipeline."""

import json
import random
import re
from itertools import product
from pathlib import Path
from typing import Callable, Dict, List

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

import spacy_radlabels  # noqa: F401  (registers the Doc extensions)
from spacy_radlabels import synth
from spacy_radlabels.schema import load_schema

HEAD_CT = Path(__file__).parent.parent / "assets" / "schemas" / "head_ct.yml"
LABELS = ["haemorrhage", "infarct", "mass"]
PHRASES = {
    "positive": ["There is an acute {}.", "Appearances in keeping with {}."],
    "uncertain": ["Possible {}.", "{} cannot be excluded."],
    "negative": ["No {}.", "No evidence of {}."],
}


def template_text(path: Path) -> str:
    """Read a template file with its train_cases path made absolute, to write it elsewhere."""
    text = path.read_text(encoding="utf8")
    return re.sub(
        r"^train_cases: (.+)$",
        lambda m: f"train_cases: {path.parent / m.group(1)}",
        text,
        flags=re.M,
    )


def make_reports(seed: int = 0) -> List[Dict]:
    """Write one short report per combination of states of the three labels."""
    rng = random.Random(seed)
    reports = []
    for i, states in enumerate(product(PHRASES, repeat=len(LABELS))):
        sentences = []
        for label, state in zip(LABELS, states):
            phrase = rng.choice(PHRASES[state]).format(label)
            sentences.append(phrase[0].upper() + phrase[1:])
        rng.shuffle(sentences)
        reports.append(
            {"id": f"r{i}", "text": " ".join(sentences), "labels": dict(zip(LABELS, states))}
        )
    return reports


def write_corpus(reports: List[Dict], path: Path) -> Path:
    """Write reports with gold in doc._.labels to a .spacy file."""
    nlp = spacy.blank("en")
    db = DocBin(store_user_data=True)
    for report in reports:
        doc = nlp.make_doc(report["text"])
        doc._.labels = report["labels"]
        db.add(doc)
    db.to_disk(path)
    return path


def finite_differences(loss: Callable[[], float], array, eps: float = 1e-3):
    """The gradient of loss() with respect to array (changed in place and restored),
    by central differences."""
    grad = numpy.zeros(array.shape)
    for index in numpy.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        up = loss()
        array[index] = original - eps
        down = loss()
        array[index] = original
        grad[index] = (up - down) / (2 * eps)
    return grad


def train_blank(reports: List[Dict], n_iter: int = 40, seed: int = 0, **config):
    """Train a blank English pipeline with an inline-tok2vec radlabels component."""
    spacy.util.fix_random_seed(seed)
    nlp = spacy.blank("en")
    nlp.add_pipe("radlabels", config=config)
    examples = []
    for report in reports:
        reference = nlp.make_doc(report["text"])
        reference._.labels = report["labels"]
        examples.append(Example(nlp.make_doc(report["text"]), reference))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer)
    return nlp


@pytest.fixture(scope="session")
def reports() -> List[Dict]:
    return make_reports()


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory, reports) -> Path:
    """A .spacy file of the tiny reports, gold in user data."""
    return write_corpus(reports, tmp_path_factory.mktemp("corpus") / "tiny.spacy")


@pytest.fixture(scope="session")
def tiny_jsonl(tmp_path_factory, reports) -> Path:
    """The tiny reports as JSONL: {"id", "text", "labels"} per line."""
    path = tmp_path_factory.mktemp("jsonl") / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in reports), encoding="utf8")
    return path


@pytest.fixture(scope="session")
def trained_nlp(reports):
    """A small pipeline trained on the tiny reports (labels haemorrhage, infarct, mass)."""
    return train_blank(reports)


@pytest.fixture(scope="session")
def trained_pipeline(tmp_path_factory, trained_nlp) -> Path:
    """The trained pipeline saved to a directory, for `spacy.load` and the CLI."""
    path = tmp_path_factory.mktemp("pipeline") / "model"
    trained_nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def head_ct_corpus(tmp_path_factory) -> Path:
    """A small head CT corpus as `synth` writes it: 108 synthetic train reports and 12 of the
    templates' training cases, 12 synthetic dev reports and a tenth of the cases, 20 held-out.

    108 synthetic train reports clear `spacy debug data`'s minimum of 100.
    """
    schema = load_schema(HEAD_CT)
    out = tmp_path_factory.mktemp("head_ct_corpus")
    templates = synth.load_templates(schema.templates, schema)
    synth.write_corpus(schema, templates, out, n=120, n_heldout=20)
    return out
