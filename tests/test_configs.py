"""spaCy's own checks on the shipped configs: `spacy debug config` and `spacy debug data`."""

from pathlib import Path

import pytest
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.util import load_config

from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import load_templates, write_corpus

ROOT = Path(__file__).parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))
HEAD_CT = ROOT / "assets" / "schemas" / "head_ct.yml"
TEMPLATES = ROOT / "assets" / "templates" / "head_ct.yml"


@pytest.fixture(scope="module")
def synthetic_corpus(tmp_path_factory) -> Path:
    """A small synthetic head CT corpus: 108 train reports clear debug data's minimum of 100."""
    schema = load_schema(HEAD_CT)
    out = tmp_path_factory.mktemp("synth")
    write_corpus(schema, load_templates(TEMPLATES, schema), out, n=120, n_heldout=1)
    return out


def overrides(corpus: Path) -> dict:
    return {
        "paths.schema": str(HEAD_CT),
        "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy"),
    }


def test_configs_found():
    assert {p.name for p in CONFIGS} >= {"cpu.cfg", "trf.cfg"}


@pytest.mark.parametrize("config_path", CONFIGS, ids=lambda p: p.name)
def test_config_is_complete(config_path):
    # A filled config names every setting: no section left for `spacy train` to fill in.
    config = load_config(config_path)
    for key in ("disabled", "before_creation", "after_creation", "after_pipeline_creation"):
        assert key in config["nlp"], f"{config_path.name}: [nlp] lacks {key}"
    assert "vectors" in config["nlp"]
    assert "gold_preproc" in config["corpora"]["train"]


@pytest.mark.parametrize("config_path", CONFIGS, ids=lambda p: p.name)
def test_debug_config_passes(config_path, synthetic_corpus):
    # show_validation_error exits with status 1 on an invalid config.
    debug_config(config_path, overrides=overrides(synthetic_corpus))


def test_debug_data_runs_on_a_synthetic_corpus(synthetic_corpus):
    # debug_data exits with status 1 when any check fails.
    debug_data(ROOT / "configs" / "cpu.cfg", config_overrides=overrides(synthetic_corpus))
