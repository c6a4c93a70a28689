"""Hostile input, determinism and no network: the component never crashes or loses a record."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import LABELS, train_blank

CONFIGS = Path(__file__).parent.parent / "configs"

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
) | st.builds(
    lambda c, n: c * n,
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.integers(1, 5000),
)


def _assert_valid(nlp, doc):
    states = nlp.get_pipe("radlabels").states
    assert set(doc._.labels) == set(LABELS)
    for label, state in doc._.labels.items():
        assert state in states
        probs = doc._.label_scores[label]
        assert all(not math.isnan(p) for p in probs.values())
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-4)
        weights = (doc._.label_attention or {}).get(label)
        if weights is not None and len(doc):
            assert len(weights) == len(doc)
            assert sum(weights) == pytest.approx(1.0, abs=1e-3)
        span = doc._.label_evidence[label]
        if span is not None:
            assert 0 <= span.start < span.end <= len(doc)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(texts, min_size=1, max_size=12))
def test_any_unicode_batch_gives_valid_states(trained_nlp, batch):
    docs = list(trained_nlp.pipe(batch, batch_size=5))
    assert [doc.text for doc in docs] == batch
    for doc in docs:
        _assert_valid(trained_nlp, doc)


@pytest.mark.parametrize(
    "text",
    [
        "\x00" * 50 + "No haemorrhage.\x00",
        "\x01\x02\x1b[31m acute infarct \x7f\u200b\ufeff",
        "a" * 100_000 + " possible mass",
        ("There is an acute haemorrhage. " * 6500)[:200_000],
    ],
    ids=["nul", "control", "long-token", "200k-chars"],
)
def test_hostile_reports(trained_nlp, text):
    _assert_valid(trained_nlp, trained_nlp(text))


def test_many_tiny_and_empty_docs_in_one_batch(trained_nlp):
    batch = ["", "x", " ", "No mass.", "\n", "?"] * 200
    docs = list(trained_nlp.pipe(batch, batch_size=1000))
    assert [doc.text for doc in docs] == batch
    for doc in docs:
        _assert_valid(trained_nlp, doc)


def test_two_processes_keep_order_and_count_with_bad_docs(trained_pipeline):
    nlp = spacy.load(trained_pipeline)
    batch = []
    for i in range(120):
        batch += [f"report {i}: possible mass.", "", "\x00\x01", "word" * 3000]
    docs = list(nlp.pipe(batch, batch_size=7, n_process=2))
    assert [doc.text for doc in docs] == batch
    for doc in docs:
        _assert_valid(nlp, doc)


def test_same_seed_gives_identical_weights(reports):
    first = train_blank(reports, n_iter=3, seed=7).get_pipe("radlabels").to_bytes()
    second = train_blank(reports, n_iter=3, seed=7).get_pipe("radlabels").to_bytes()
    other = train_blank(reports, n_iter=3, seed=8).get_pipe("radlabels").to_bytes()
    assert first == second
    assert first != other


NO_NETWORK = """
import socket, sys

def refuse(*args, **kwargs):
    raise RuntimeError(f"network access attempted: {args!r}")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import spacy
nlp = spacy.load(sys.argv[1])
doc = nlp("No haemorrhage. Possible infarct.")
print(sorted(doc._.labels))
"""


def test_no_network_when_loading_and_running(trained_pipeline):
    out = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, str(trained_pipeline)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(sorted(LABELS))


def test_no_network_with_transformer_pipeline(tmp_path, reports):
    pytest.importorskip("spacy_transformers")
    config = spacy.util.load_config(CONFIGS / "trf.cfg", interpolate=True)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    examples = []
    for report in reports[:4]:
        reference = nlp.make_doc(report["text"])
        reference._.labels = report["labels"]
        examples.append(spacy.training.Example(nlp.make_doc(report["text"]), reference))
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "trf")
    out = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, str(tmp_path / "trf")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(sorted(LABELS))
