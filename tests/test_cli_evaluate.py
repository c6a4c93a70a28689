"""`radlabels evaluate` and `compute_metrics`: hand-computed metrics, reports, HTML."""

import json
import shutil

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_radlabels.cli import app
from spacy_radlabels.evaluation import evaluate_pipeline
from spacy_radlabels.metrics import compute_metrics
from spacy_radlabels.report import NA, label_rows, state_rows, to_html, to_markdown

from .test_cli_explain import assert_well_formed

STATES = ["positive", "uncertain", "negative"]
# Four docs, two labels; doc 3 does not annotate "b", so its prediction for "b" is ignored.
GOLD = [
    {"a": "positive", "b": "negative"},
    {"a": "uncertain", "b": "positive"},
    {"a": "negative"},
    {"a": "positive", "b": "uncertain"},
]
PRED = [
    {"a": "positive", "b": "positive"},
    {"a": "positive", "b": "positive"},
    {"a": "negative", "b": "uncertain"},
    {"a": "uncertain", "b": "uncertain"},
]
runner = CliRunner()


def approx(value: float) -> object:
    """Compare floats to 1e-9.

    value (float): The expected value.
    RETURNS (object): A pytest approx.
    """
    return pytest.approx(value, abs=1e-9)


def test_metrics_by_hand():
    m = compute_metrics(GOLD, PRED, ["a", "b"], STATES)
    # 7 annotated (doc, label) pairs, 4 correct: a doc1, a doc3, b doc2, b doc4.
    assert m["n_pairs"] == 7 and m["accuracy"] == approx(4 / 7)
    a, b = m["per_label"]["a"], m["per_label"]["b"]
    # a positive: TP doc1, FP doc2 (gold uncertain), FN doc4 (predicted uncertain).
    assert a["states"]["positive"] == {"p": 0.5, "r": 0.5, "f": 0.5, "support": 2}
    assert a["states"]["uncertain"] == {"p": 0.0, "r": 0.0, "f": 0.0, "support": 1}
    assert a["states"]["negative"] == {"p": 1.0, "r": 1.0, "f": 1.0, "support": 1}
    # b positive: TP doc2, FP doc1 (gold negative).
    assert b["states"]["positive"]["p"] == 0.5 and b["states"]["positive"]["r"] == 1.0
    assert b["states"]["positive"]["f"] == approx(2 / 3)
    assert b["states"]["uncertain"]["f"] == 1.0
    assert b["states"]["negative"] == {"p": 0.0, "r": 0.0, "f": 0.0, "support": 1}
    # Micro over (label, positive|uncertain): TP 3, FP 3, FN 2.
    assert m["micro"]["p"] == approx(3 / 6) and m["micro"]["r"] == approx(3 / 5)
    assert m["micro"]["f"] == approx(6 / 11)
    # Macro: mean over labels of the mean finding-state F1: a (0.5 + 0) / 2, b (2/3 + 1) / 2.
    assert m["macro_f"] == approx((0.25 + 5 / 6) / 2)
    # Kappa a: observed 2/4, chance (2*2 + 1*1 + 1*1) / 16 = 3/8 -> (1/2 - 3/8) / (5/8).
    assert a["kappa"] == approx(0.2)
    # Kappa b: observed 2/3, chance (1*2 + 1*1 + 1*0) / 9 = 1/3 -> (1/3) / (2/3).
    assert b["kappa"] == approx(0.5)
    assert a["n"] == 4 and a["accuracy"] == 0.5 and b["accuracy"] == approx(2 / 3)
    assert a["confusion"] == [[1, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert b["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    # Pooled positive: TP 2, FP 2, FN 1.
    assert m["per_state"]["positive"]["p"] == 0.5
    assert m["per_state"]["positive"]["f"] == approx(4 / 7)
    assert m["per_state"]["positive"]["support"] == 3
    assert m["per_state"]["negative"]["r"] == 0.5


def test_metrics_undefined_kappa_and_unannotated_label():
    m = compute_metrics([{"a": "negative"}] * 3, [{"a": "negative"}] * 3, ["a", "b"], STATES)
    assert m["per_label"]["a"]["kappa"] is None and m["per_label"]["a"]["accuracy"] == 1.0
    assert m["per_label"]["b"] == {
        "n": 0,
        "accuracy": None,
        "kappa": None,
        "states": m["per_label"]["b"]["states"],
        "confusion": [[0, 0, 0]] * 3,
    }
    json.dumps(m)


def test_states_without_support_show_na_not_zero():
    # Label "a" has no uncertain gold but one uncertain prediction; "b" has neither.
    gold = [{"a": "positive", "b": "positive"}, {"a": "negative", "b": "negative"}]
    pred = [{"a": "uncertain", "b": "positive"}, {"a": "negative", "b": "negative"}]
    m = compute_metrics(gold, pred, ["a", "b"], STATES)
    rows = {row[0]: row for row in label_rows(m)}
    # Columns: label, n, acc, kappa, then P, R, F1, n per finding state.
    a_positive, a_uncertain = rows["a"][4:8], rows["a"][8:12]
    b_positive, b_uncertain = rows["b"][4:8], rows["b"][8:12]
    # Predicted uncertain once, wrongly: precision 0 is measured; recall and F1 are not.
    assert a_uncertain == ["0.000", NA, NA, "0"]
    # Never predicted positive, one gold positive missed: recall 0 is measured.
    assert a_positive == [NA, "0.000", "0.000", "1"]
    assert b_uncertain == [NA, NA, NA, "0"] and b_positive == ["1.000", "1.000", "1.000", "1"]
    pooled = {row[0]: row for row in state_rows(m)}
    assert pooled["uncertain"] == ["uncertain", "0.000", NA, NA, "0"]
    markdown = to_markdown(m, "t")
    assert "| b | 2 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1 | n/a | n/a | n/a | 0 |" in markdown
    html = to_html(m, "t")
    # The F1 chart draws no bar for an unsupported state and labels it n/a.
    assert 'width="0.0" height="11" fill="#e67e00"><title>b uncertain: F1 n/a (n=0)' in html
    assert "a uncertain: F1 n/a (n=0)" in html and "a positive: F1 0.00 (n=1)" in html
    assert_well_formed(html)


def test_metrics_length_mismatch():
    with pytest.raises(ValueError):
        compute_metrics(GOLD, PRED[:2], ["a", "b"], STATES)


def test_evaluate_cli_writes_reports(trained_pipeline, tiny_jsonl, tmp_path):
    # A file name with markup must come out escaped in the reports' titles.
    data = tmp_path / "<b>tiny.jsonl"
    shutil.copy(tiny_jsonl, data)
    output = tmp_path / "metrics"
    result = runner.invoke(
        app, ["evaluate", str(trained_pipeline), str(data), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "haemorrhage" in result.output and "micro F1" in result.output
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_docs"] == 27 and metrics["n_pairs"] == 81
    assert metrics["model"] == {"lang": "en", "name": "pipeline", "version": "0.0.0"}
    assert "| haemorrhage |" in (output / "metrics.md").read_text(encoding="utf-8")
    html = (output / "report.html").read_text(encoding="utf-8")
    assert "(en_pipeline 0.0.0)" in html
    assert "<svg" in html and "&lt;b&gt;tiny.jsonl" in html and "<b>tiny" not in html
    assert_well_formed(html)


def test_evaluate_matches_training_scorer(trained_pipeline, tiny_corpus, tiny_jsonl):
    nlp = spacy.load(trained_pipeline)
    from_spacy = evaluate_pipeline(nlp, tiny_corpus)
    assert evaluate_pipeline(nlp, tiny_jsonl) == from_spacy
    references = DocBin().from_disk(tiny_corpus).get_docs(nlp.vocab)
    scores = nlp.evaluate([Example(nlp.make_doc(doc.text), doc) for doc in references])
    assert from_spacy["micro"]["f"] == approx(scores["labels_micro_f"])
    assert from_spacy["macro_f"] == approx(scores["labels_macro_f"])
    assert from_spacy["accuracy"] == approx(scores["labels_acc"])


def test_evaluate_unknown_gold_label_in_spacy_file(trained_pipeline, tmp_path):
    nlp = spacy.blank("en")
    doc = nlp.make_doc("No bleed.")
    doc._.labels = {"haemorrhage": "maybe"}
    data = tmp_path / "gold.spacy"
    DocBin(docs=[doc], store_user_data=True).to_disk(data)
    result = runner.invoke(
        app, ["evaluate", str(trained_pipeline), str(data), "-o", str(tmp_path / "m")]
    )
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "gold.spacy" in message and "doc 0" in message and "'maybe'" in message


def test_evaluate_unknown_gold_label(trained_pipeline, tmp_path):
    data = tmp_path / "gold.jsonl"
    data.write_text('{"text": "No bleed.", "labels": {"tumour": "negative"}}\n', encoding="utf-8")
    result = runner.invoke(
        app, ["evaluate", str(trained_pipeline), str(data), "-o", str(tmp_path / "m")]
    )
    assert result.exit_code == 1
    assert "line 1" in result.output and "tumour" in result.output
