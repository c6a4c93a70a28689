"""CheXpert's labelling conventions in the chest schema, its templates and the tokenizer."""

import random
import re
from pathlib import Path

import pytest
import spacy
from spacy.util import registry

from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import ReportGenerator, TemplateError, load_templates
from spacy_radlabels.synth.templates import mention_regex
from spacy_radlabels.tokenizer import add_report_infixes

from .conftest import template_text, train_blank

ROOT = Path(__file__).parent.parent
CHEST = ROOT / "assets" / "schemas" / "chest_xray.yml"
REPORTED = ("positive", "uncertain")


@pytest.fixture(scope="module")
def schema():
    return load_schema(CHEST)


@pytest.fixture(scope="module")
def templates(schema):
    return load_templates(schema.templates, schema)


@pytest.fixture(scope="module")
def reports(schema, templates):
    generator = ReportGenerator(schema, templates)
    rng = random.Random(11)
    return [generator.generate(rng) for _ in range(2000)]


def test_no_label_raises_another(schema):
    # CheXpert never propagates: cardiomegaly alone leaves enlarged_cardiomediastinum blank.
    assert schema.hierarchy == {}
    for label in schema.labels:
        assert schema.ancestors(label) == [] and schema.descendants(label) == []


def test_component_trains_with_the_empty_chest_hierarchy(schema, reports):
    hierarchy = registry.misc.get("spacy-radlabels.schema_hierarchy.v1")(str(CHEST))
    assert hierarchy == {}
    records = [{"text": text, "labels": gold} for text, gold in reports[:8]]
    nlp = train_blank(records, n_iter=2, states=schema.states, hierarchy=hierarchy)
    assert nlp.get_pipe("radlabels").cfg["hierarchy"] == {}
    doc = nlp("Cardiomegaly.")
    assert set(doc._.labels) == set(schema.labels)
    assert set(doc._.labels.values()) <= set(schema.states)


def test_no_variant_names_another_label(schema):
    # "nodular opacity" would state lung_opacity too: a variant names one label only.
    for label in schema.labels:
        for other in schema.labels:
            if other != label:
                regex = mention_regex(schema.variants(other))
                hits = [v for v in schema.variants(label) if regex.search(v)]
                assert not hits, (label, hits, other)


def test_support_devices_cover_tubes_lines_pacemakers_wires_and_clips(schema):
    words = " ".join(schema.variants("support_devices")).lower()
    for word in ("tube", "line", "catheter", "pacemaker", "sternotomy wires", "clips"):
        assert word in words, word


def test_cardiomegaly_alone_leaves_the_mediastinum_absent(reports):
    alone = [g for _, g in reports if g["cardiomegaly"] == "positive"]
    assert sum(g["enlarged_cardiomediastinum"] == "absent" for g in alone) >= 0.3 * len(alone)


def test_lung_opacity_only_from_opacity_words(schema, reports):
    regex = mention_regex(schema.variants("lung_opacity"))
    children = ("edema", "atelectasis", "consolidation", "pneumonia", "lung_lesion")
    reported, missed, child_only = 0, [], 0
    for text, gold in reports:
        if gold["lung_opacity"] in REPORTED:
            reported += 1
            if not regex.search(text):
                missed.append(text)
        elif any(gold[c] == "positive" for c in children):
            child_only += 1
    # Only a typo that hits the one mention may hide it.
    assert len(missed) <= 0.01 * reported, missed[:2]
    assert reported >= 100 and child_only >= 100


def test_normality_statements_are_negations(templates, reports):
    negating = [s for s in templates.normal_findings if s.negates]
    assert {lab for s in negating for lab in s.negates} == {
        "cardiomegaly",
        "enlarged_cardiomediastinum",
    }
    checked = 0
    for text, gold in reports:
        lowered = text.lower()
        for sentence in negating:
            if sentence.text.lower() in lowered:
                checked += 1
                for label in sentence.negates:
                    assert gold[label] == "negative", (sentence.text, label, text)
    assert checked >= 200


def test_heart_size_normal_alone_denies_only_cardiomegaly(schema, templates):
    sentence = next(s for s in templates.normal_findings if s.text == "Heart size is normal.")
    assert sentence.negates == ["cardiomegaly"]
    assert "enlarged_cardiomediastinum" in sentence.unless
    silhouette = next(
        s for s in templates.normal_findings if s.text == "Normal cardiomediastinal silhouette."
    )
    assert silhouette.negates == ["enlarged_cardiomediastinum"]


def test_no_finding_follows_the_findings_and_allows_devices(schema, reports):
    findings = [lab for lab in schema.labels if schema.group(lab) == "finding"]
    with_device = 0
    for _, gold in reports:
        if any(gold[lab] in REPORTED for lab in findings):
            assert gold["no_finding"] == "absent"
        if gold["no_finding"] == "positive" and gold["support_devices"] == "positive":
            with_device += 1
        assert gold["no_finding"] in ("positive", "absent")
    assert with_device >= 3


def test_reports_include_chexpert_surface_forms(reports):
    texts = [text for text, _ in reports]
    assert sum(bool(re.search(r"(?:^|\s)1\.[A-Za-z]", t)) for t in texts) >= 20
    assert sum(t == t.lower() for t in texts) >= 0.05 * len(texts)


@pytest.mark.parametrize(
    "text,tokens",
    [
        ("1.mild edema 2.no effusion", ["1", ".", "mild", "edema", "2", ".", "no", "effusion"]),
        ("edema.2.no pneumothorax", ["edema", ".", "2", ".", "no", "pneumothorax"]),
        ("no pneumothorax.lungs clear", ["no", "pneumothorax", ".", "lungs", "clear"]),
        ("IMPRESSION:1.cardiomegaly", ["IMPRESSION", ":", "1", ".", "cardiomegaly"]),
        ("effusion;4.PICC line", ["effusion", ";", "4", ".", "PICC", "line"]),
        ("1)edema", ["1", ")", "edema"]),
        (
            "a 1.5 cm nodule, e.g. at T11.",
            ["a", "1.5", "cm", "nodule", ",", "e.g.", "at", "T11", "."],
        ),
        ("see www.example.org", ["see", "www.example.org"]),
    ],
)
def test_report_tokenizer_splits_glued_items(text, tokens):
    nlp = add_report_infixes(spacy.blank("en"))
    assert [t.text for t in nlp(text)] == tokens


def test_report_tokenizer_is_saved_with_the_pipeline(tmp_path):
    nlp = add_report_infixes(spacy.blank("en"))
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert [t.text for t in loaded("1.mild edema")] == ["1", ".", "mild", "edema"]


def test_configs_add_the_report_tokenizer():
    for name in ("cpu.cfg", "trf.cfg"):
        config = spacy.util.load_config(ROOT / "configs" / name)
        assert config["initialize"]["before_init"] == {
            "@callbacks": "spacy-radlabels.report_tokenizer.v1"
        }


def test_negates_with_an_unknown_label_names_file_and_sentence(tmp_path, schema):
    text = template_text(schema.templates)
    old = '{text: "Heart size is normal.",\n'
    assert old in text
    start = text.index(old)
    end = text.index("negates: [cardiomegaly]", start)
    text = text[:end] + "negates: [heart]" + text[end + len("negates: [cardiomegaly]") :]
    path = tmp_path / "chest.yml"
    path.write_text(text, encoding="utf8")
    with pytest.raises(TemplateError) as info:
        load_templates(path, schema)
    assert str(path) in str(info.value)
    assert "'Heart size is normal.' negates names label 'heart'" in str(info.value)
