"""The behavioural probe: cases apart from the templates, hierarchical gold, exact metrics."""

import json
import random
from collections import Counter
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from typer.testing import CliRunner

from spacy_radlabels.cli import app
from spacy_radlabels.probe import (
    FRAMES,
    ProbeCase,
    build_cases,
    run_probe,
    score_probe,
    split_sentences,
)
from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import ReportGenerator, load_templates
from spacy_radlabels.synth.templates import labels_mentioned

from .test_cli_explain import assert_well_formed

ROOT = Path(__file__).parent.parent
SCHEMAS = {
    "head_ct": ROOT / "assets" / "schemas" / "head_ct.yml",
    "chest_xray": ROOT / "assets" / "schemas" / "chest_xray.yml",
}
TINY_SCHEMA = """\
name: tiny
labels:
  haemorrhage:
    group: impression
    definition: Blood.
    variants: [haemorrhage, bleed]
  subdural_haematoma:
    group: impression
    parent: haemorrhage
    definition: Blood under the dura.
    variants: [subdural haemorrhage, SDH]
  infarct:
    group: impression
    definition: Dead brain.
    variants: [infarct, infarction]
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "tiny.yml"
    path.write_text(TINY_SCHEMA, encoding="utf8")
    return load_schema(path)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_no_probe_sentence_is_a_training_sentence(name):
    schema = load_schema(SCHEMAS[name])
    templates = load_templates(schema.templates, schema)
    generated = set()
    # The seen templates (train and dev) and the held-out ones (test_heldout) alike, and
    # carrier items (a finding among random filler words).
    for heldout, n, carrier in ((False, 2000, 0.0), (True, 500, 0.0), (False, 2000, 1.0)):
        generator = ReportGenerator(schema, templates, heldout=heldout, carrier_ratio=carrier)
        rng = random.Random(
            f"probe-test-{heldout}-{carrier}" if carrier else f"probe-test-{heldout}"
        )
        for _ in range(n):
            text, _ = generator.generate(rng)
            generated.update(split_sentences(text))
    probe = {sentence for case in build_cases(schema) for sentence in split_sentences(case.text)}
    assert len(generated) > 5000 and len(probe) > 200
    assert sorted(probe & generated) == []


def test_split_sentences_normalises_case_breaks_and_headers():
    text = "IMPRESSION: There may be\nSDH.  No  bleed. ?SAH."
    assert split_sentences(text) == ["there may be sdh.", "no bleed.", "?sah."]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_label_in_every_state_and_cue_position(name):
    schema = load_schema(SCHEMAS[name])
    cases = build_cases(schema)
    singles = Counter(
        (label, state)
        for case in cases
        if case.capability in ("positive", "negation", "uncertainty")
        for label, state in case.expected.items()
        if label not in case.implied
    )
    n_frames = {state: sum(map(len, FRAMES[state].values())) for state in FRAMES}
    for label in schema.labels:
        if schema.group(label) == "summary":
            assert all(label not in case.expected for case in cases)
            continue
        for state, n in n_frames.items():
            assert singles[(label, state)] == n, (label, state)
    capabilities = Counter(case.capability for case in cases)
    assert set(capabilities) == {
        "positive",
        "negation",
        "uncertainty",
        "sections",
        "robustness",
        "scope",
        "label-free",
    }
    assert len({case.id for case in cases}) == len(cases)
    for case in cases:
        # A case names only its labels and their ancestors (a negated child's parent too).
        allowed = set(case.expected)
        for label in case.expected:
            allowed.update(schema.ancestors(label))
        assert set(labels_mentioned(case.text, schema)) <= allowed, case
        if case.capability != "robustness":
            stated = {lab for lab in case.expected if lab not in case.implied}
            assert stated <= set(labels_mentioned(case.text, schema)), case


def test_gold_follows_the_head_ct_hierarchy():
    schema = load_schema(SCHEMAS["head_ct"])
    cases = {case.id: case for case in build_cases(schema)}
    positive = cases["subdural_haematoma-positive-before-0"]
    assert positive.expected == {"subdural_haematoma": "positive", "haemorrhage": "positive"}
    assert positive.implied == ("haemorrhage",) and positive.summary == {}
    uncertain = cases["acute_ischaemic_stroke-uncertain-after-1"]
    assert uncertain.expected == {
        "acute_ischaemic_stroke": "uncertain",
        "ischaemic_stroke": "uncertain",
    }
    # A negated child says nothing of its parent: the parent stays unmentioned.
    negated = cases["midline_shift-negative-before-0"]
    assert negated.expected == {"midline_shift": "negative"} and negated.implied == ()
    for case in cases.values():
        if case.capability == "scope":
            states = sorted(case.expected[lab] for lab in case.expected if lab not in case.implied)
            assert states == ["negative", "positive"]
        if case.capability == "label-free":
            assert case.expected == {}


def test_gold_of_the_chest_summary_label():
    schema = load_schema(SCHEMAS["chest_xray"])
    cases = {case.id: case for case in build_cases(schema)}
    # A positive or uncertain finding ends No Finding (absent); a negated one leaves it positive.
    edema = cases["edema-uncertain-before-0"]
    # CheXpert raises no parent from a child: lung_opacity stays unmentioned.
    assert edema.expected == {"edema": "uncertain"} and edema.implied == ()
    assert edema.summary == {"no_finding": "absent"}
    assert cases["edema-negative-after-0"].summary == {"no_finding": "positive"}
    # Support devices are not findings (CheXpert): No Finding stays positive.
    assert cases["support_devices-positive-before-0"].summary == {"no_finding": "positive"}
    free = [case for case in cases.values() if case.capability == "label-free"]
    assert free and all(case.summary == {"no_finding": "positive"} for case in free)


def test_same_seed_same_cases_other_seed_differs(tiny_schema):
    first, again, other = (build_cases(tiny_schema, seed) for seed in (0, 0, 1))
    assert [c.text for c in first] == [c.text for c in again]
    assert [c.text for c in first] != [c.text for c in other]


def test_score_by_hand(tiny_schema):
    cases = [
        ProbeCase(
            "p",
            "positive",
            "t",
            "SDH.",
            {"subdural_haematoma": "positive", "haemorrhage": "positive"},
            ("haemorrhage",),
        ),
        ProbeCase(
            "u",
            "uncertain",
            "t",
            "?SDH.",
            {"subdural_haematoma": "uncertain", "haemorrhage": "uncertain"},
            ("haemorrhage",),
        ),
        ProbeCase("n", "negation", "t", "No SDH.", {"subdural_haematoma": "negative"}),
        ProbeCase("f", "label-free", "t", "Normal.", {}),
    ]
    predicted = [
        # Right, and infarct spurious (uncertain).
        {"subdural_haematoma": "positive", "haemorrhage": "positive", "infarct": "uncertain"},
        # An implied ancestor may be stronger than its child: positive passes for uncertain.
        {"subdural_haematoma": "negative", "haemorrhage": "positive", "infarct": "negative"},
        # The parent of a negated child is unmentioned: positive there is spurious.
        {"subdural_haematoma": "negative", "haemorrhage": "positive", "infarct": "negative"},
        {"subdural_haematoma": "negative", "haemorrhage": "negative", "infarct": "negative"},
    ]
    m = score_probe(cases, predicted, tiny_schema, n_worst=2)
    assert m["n_cases"] == 4 and m["n_target"] == 5 and m["target_accuracy"] == 4 / 5
    assert m["target_accuracy_per_state"] == {"positive": 1.0, "uncertain": 0.5, "negative": 1.0}
    assert m["target_support_per_state"] == {"positive": 2, "uncertain": 2, "negative": 1}
    # Unmentioned: infarct in p, u; haemorrhage and infarct in n; all three in f.
    assert m["n_unmentioned"] == 7 and m["n_spurious"] == 2 and m["spurious_rate"] == 2 / 7
    assert m["unmentioned_accuracy"] == 5 / 7 and m["summary_accuracy"] is None
    assert m["per_capability"]["negation"]["spurious_rate"] == 1 / 2
    assert m["per_capability"]["label-free"]["target_accuracy"] is None
    negation_test = [t for t in m["per_test"] if t["capability"] == "negation"]
    assert len(m["per_test"]) == 4 and negation_test[0]["spurious_rate"] == 1 / 2
    assert m["per_label"]["haemorrhage"]["n_spurious"] == 1
    assert m["per_label"]["haemorrhage"]["target_accuracy"] == 1.0
    assert m["n_failed_cases"] == 3
    assert [case["id"] for case in m["worst_cases"]] == ["p", "u"]
    assert m["worst_cases"][0]["spurious"] == {"infarct": "uncertain"}
    assert m["worst_cases"][1]["missed"] == {
        "subdural_haematoma": {"expected": "uncertain", "predicted": "negative"}
    }
    json.dumps(m)


def test_score_the_chest_summary_label_apart():
    schema = load_schema(SCHEMAS["chest_xray"])
    case = ProbeCase("f", "label-free", "t", "Normal study.", {}, (), {"no_finding": "positive"})
    absent = {label: "absent" for label in schema.labels}
    normal = score_probe([case], [{**absent, "no_finding": "positive"}], schema)
    assert normal["summary_accuracy"] == 1.0 and normal["spurious_rate"] == 0.0
    assert normal["n_unmentioned"] == len(schema.labels) - 1
    # Negative instead of absent is no finding: not spurious, but not the unmentioned state.
    silent = score_probe([case], [{**absent, "cardiomegaly": "negative"}], schema)
    assert silent["summary_accuracy"] == 0.0 and silent["spurious_rate"] == 0.0
    assert silent["unmentioned_accuracy"] == (len(schema.labels) - 2) / (len(schema.labels) - 1)


@Language.component("probe_test_infarct_always")
def infarct_always(doc):
    """Call infarct positive in every doc and every other label negative."""
    doc._.labels = {
        "haemorrhage": "negative",
        "subdural_haematoma": "negative",
        "infarct": "positive",
    }
    return doc


def test_spurious_rate_of_a_pipeline_whose_output_is_known(tiny_schema):
    nlp = spacy.blank("en")
    nlp.add_pipe("probe_test_infarct_always")
    cases = build_cases(tiny_schema)
    m = run_probe(nlp, tiny_schema)
    assert m["n_cases"] == len(cases)
    without_infarct = [case for case in cases if "infarct" not in case.expected]
    unmentioned = sum(3 - len(case.expected) for case in cases)
    assert m["n_spurious"] == len(without_infarct)
    assert m["spurious_rate"] == len(without_infarct) / unmentioned
    # Label-free text: one spurious label of three, exactly.
    assert m["per_capability"]["label-free"]["spurious_rate"] == 1 / 3
    assert m["per_label"]["infarct"]["spurious_rate"] == 1.0
    assert m["per_label"]["haemorrhage"]["spurious_rate"] == 0.0
    # Infarct is right exactly where it is stated positive; negatives are right elsewhere.
    per_state = m["target_accuracy_per_state"]
    infarct_positive = sum(case.expected.get("infarct") == "positive" for case in cases)
    positives = sum(state == "positive" for case in cases for state in case.expected.values())
    assert per_state["positive"] == infarct_positive / positives
    assert per_state["uncertain"] == 0.0
    infarct_negative = sum(case.expected.get("infarct") == "negative" for case in cases)
    negatives = sum(state == "negative" for case in cases for state in case.expected.values())
    assert per_state["negative"] == (negatives - infarct_negative) / negatives


def test_cli_writes_the_three_reports(trained_pipeline, tmp_path):
    schema = tmp_path / "three.yml"
    schema.write_text(
        "name: three\nlabels:\n"
        + "".join(
            f"  {label}:\n    group: finding\n    definition: {label}.\n    variants: [{label}]\n"
            for label in ("haemorrhage", "infarct", "mass")
        ),
        encoding="utf8",
    )
    output = tmp_path / "probe"
    result = runner.invoke(
        app,
        ["probe", str(trained_pipeline), "--schema", str(schema), "--output", str(output)],
    )
    assert result.exit_code == 0, result.output
    assert "spurious rate" in result.output and "negation" in result.output
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_cases"] == len(build_cases(load_schema(schema)))
    for key in (
        "spurious_rate",
        "target_accuracy",
        "target_accuracy_per_state",
        "n_cases",
        "per_capability",
        "per_label",
        "worst_cases",
    ):
        assert key in metrics
    markdown = (output / "metrics.md").read_text(encoding="utf-8")
    assert "## Per capability" in markdown and "| label-free |" in markdown
    assert "| negation | {X} is not appreciated. |" in markdown
    html = (output / "report.html").read_text(encoding="utf-8")
    assert "Worst cases" in html
    assert_well_formed(html)


def test_cli_stops_on_a_schema_the_pipeline_was_not_trained_with(trained_pipeline, tmp_path):
    result = runner.invoke(
        app,
        [
            "probe",
            str(trained_pipeline),
            "--schema",
            str(SCHEMAS["head_ct"]),
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1
    assert "different label set" in result.output
    assert not (tmp_path / "out").exists()
