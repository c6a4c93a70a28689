"""spaCy's own checks on the shipped configs: `spacy debug config` and `spacy debug data`."""

from pathlib import Path

import pytest
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.util import load_config

from .conftest import HEAD_CT

ROOT = Path(__file__).parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))


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
def test_debug_config_passes(config_path, head_ct_corpus):
    # show_validation_error exits with status 1 on an invalid config.
    debug_config(config_path, overrides=overrides(head_ct_corpus))


def test_debug_data_runs_on_a_head_ct_corpus(head_ct_corpus):
    # debug_data exits with status 1 when any check fails.
    debug_data(ROOT / "configs" / "cpu.cfg", config_overrides=overrides(head_ct_corpus))
