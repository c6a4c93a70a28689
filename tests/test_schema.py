"""Schema files: the head CT schema as DESIGN.md names it, and errors that name file + label."""

import re
from pathlib import Path

import pytest
from spacy.util import registry

from spacy_radlabels.schema import SchemaError, load_schema
from spacy_radlabels.synth.templates import mention_regex

ROOT = Path(__file__).parent.parent
HEAD_CT = ROOT / "assets" / "schemas" / "head_ct.yml"

FINDINGS = [
    "hyperdensity",
    "hypodensity",
    "hyperdense_vessel",
    "white_matter_hypodensity",
    "loss_of_grey_white_differentiation",
    "cerebral_oedema",
    "mass_effect",
    "midline_shift",
    "hydrocephalus",
    "atrophy",
    "encephalomalacia",
    "calcification",
    "skull_fracture",
]
IMPRESSIONS = [
    "haemorrhage",
    "intracerebral_haemorrhage",
    "subarachnoid_haemorrhage",
    "subdural_haematoma",
    "extradural_haematoma",
    "intraventricular_haemorrhage",
    "haemorrhagic_transformation",
    "ischaemic_stroke",
    "acute_ischaemic_stroke",
    "old_ischaemic_stroke",
    "lacunar_infarct",
    "small_vessel_disease",
    "tumour",
    "aneurysm",
    "vascular_malformation",
    "infection",
    "venous_sinus_thrombosis",
    "contusion",
]
HIERARCHY = {
    "hyperdense_vessel": "hyperdensity",
    "white_matter_hypodensity": "hypodensity",
    "midline_shift": "mass_effect",
    **{child: "haemorrhage" for child in IMPRESSIONS[1:7]},
    **{child: "ischaemic_stroke" for child in IMPRESSIONS[8:11]},
}

VALID = """\
name: tiny
labels:
  haemorrhage:
    group: impression
    definition: Blood.
    variants: [haemorrhage, bleed]
  subdural_haematoma:
    group: impression
    parent: haemorrhage
    definition: Subdural blood.
    variants: [subdural haematoma, SDH]
"""


@pytest.fixture(scope="module")
def head_ct():
    return load_schema(HEAD_CT)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schema.yml"
    path.write_text(text, encoding="utf8")
    return path


def test_head_ct_labels_match_design(head_ct):
    assert head_ct.labels == FINDINGS + IMPRESSIONS
    assert head_ct.hierarchy == HIERARCHY
    assert head_ct.states == ["positive", "uncertain", "negative"]
    assert [head_ct.group(lab) for lab in FINDINGS] == ["finding"] * 13
    assert [head_ct.group(lab) for lab in IMPRESSIONS] == ["impression"] * 18


def test_head_ct_labels_are_described_richly(head_ct):
    for label in head_ct.labels:
        spec = head_ct.label_specs[label]
        assert len(spec.variants) >= 5, label
        assert spec.definition and "\n" not in spec.definition
    sah = head_ct.variants("subarachnoid_haemorrhage")
    assert {"SAH", "subarachnoid hemorrhage", "blood in the basal cisterns"} <= set(sah)


def test_no_variant_names_an_unrelated_label(head_ct):
    # "subarachnoid haemorrhage" may contain "haemorrhage" (an ancestor), nothing else may.
    for label in head_ct.labels:
        for other in head_ct.labels:
            if other == label or other in head_ct.ancestors(label):
                continue
            regex = mention_regex(head_ct.variants(other))
            for variant in head_ct.variants(label):
                assert not regex.search(variant), (label, variant, other)


def test_hierarchy_helpers(head_ct):
    assert head_ct.ancestors("midline_shift") == ["mass_effect"]
    assert head_ct.ancestors("haemorrhage") == []
    assert set(head_ct.descendants("ischaemic_stroke")) == {
        "acute_ischaemic_stroke",
        "old_ischaemic_stroke",
        "lacunar_infarct",
    }
    assert head_ct.parent("subdural_haematoma") == "haemorrhage"
    assert head_ct.negative_state == "negative"


def test_registered_misc_functions_read_the_schema(head_ct):
    labels = registry.misc.get("spacy-radlabels.schema_labels.v1")(str(HEAD_CT))
    hierarchy = registry.misc.get("spacy-radlabels.schema_hierarchy.v1")(str(HEAD_CT))
    states = registry.misc.get("spacy-radlabels.schema_states.v1")(str(HEAD_CT))
    assert labels == head_ct.labels
    assert hierarchy == head_ct.hierarchy
    assert states == ["positive", "uncertain", "negative"]


def test_absent_state_is_the_not_mentioned_state(tmp_path):
    text = VALID.replace(
        "name: tiny", "name: tiny\nstates: [positive, uncertain, negative, absent]"
    )
    schema = load_schema(write(tmp_path, text))
    assert schema.states[-1] == "absent"
    assert schema.negative_state == "absent"


BROKEN = {
    "duplicate": (
        VALID + "  haemorrhage:\n    group: x\n    definition: y\n    variants: [z]\n",
        "haemorrhage",
        "defined twice",
    ),
    "unknown_parent": (
        VALID.replace("parent: haemorrhage", "parent: bleeding"),
        "subdural_haematoma",
        "unknown parent 'bleeding'",
    ),
    "cycle": (
        VALID.replace(
            "    group: impression\n    definition: Blood.",
            "    group: impression\n    parent: subdural_haematoma\n    definition: Blood.",
        ),
        "haemorrhage",
        "cycle",
    ),
    "empty_variants": (
        VALID.replace("[subdural haematoma, SDH]", "[]"),
        "subdural_haematoma",
        "variants",
    ),
    "missing_variants": (
        VALID.replace("    variants: [subdural haematoma, SDH]\n", ""),
        "subdural_haematoma",
        "missing 'variants'",
    ),
    "missing_group": (
        VALID.replace("    group: impression\n    parent", "    parent"),
        "subdural_haematoma",
        "missing 'group'",
    ),
    "unknown_key": (
        VALID.replace("parent: haemorrhage", "parnet: haemorrhage"),
        "subdural_haematoma",
        "unknown keys",
    ),
    "duplicate_variant": (
        VALID.replace("[haemorrhage, bleed]", "[bleed, bleed]"),
        "haemorrhage",
        "twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_errors_name_file_and_label(tmp_path, case):
    text, label, message = BROKEN[case]
    path = write(tmp_path, text)
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert str(path) in str(info.value)
    assert f"'{label}'" in str(info.value)
    assert message in str(info.value)


def test_duplicate_label_error_gives_lines(tmp_path):
    path = write(tmp_path, BROKEN["duplicate"][0])
    with pytest.raises(SchemaError, match=re.escape(f"{path}:12") + ".*first at line 3"):
        load_schema(path)


def test_unknown_state_is_refused(tmp_path):
    path = write(tmp_path, VALID.replace("name: tiny", "name: tiny\nstates: [positive, maybe]"))
    with pytest.raises(SchemaError, match="unknown states \\['maybe'\\]"):
        load_schema(path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, VALID.replace("variants: [haemorrhage, bleed]", "variants: [oops"))
    with pytest.raises(SchemaError, match=re.escape(str(path)) + r":\d+: invalid YAML"):
        load_schema(path)


def test_missing_file_and_top_level_keys(tmp_path):
    with pytest.raises(SchemaError, match="file not found"):
        load_schema(tmp_path / "nope.yml")
    with pytest.raises(SchemaError, match="missing top-level key 'name'"):
        load_schema(write(tmp_path, VALID.replace("name: tiny\n", "")))
