"""spaCy's own checks on the shipped configs: `spacy debug config` and `spacy debug data`."""

from pathlib import Path

import numpy
import pytest
from spacy.cli.debug_config import debug_config
from spacy.cli.debug_data import debug_data
from spacy.util import load_config

from spacy_radlabels.vectors import corpus_words, write_vectors

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


@pytest.mark.parametrize("name", ["cpu.cfg", "cpu-novectors.cfg"])
def test_debug_data_runs_on_a_head_ct_corpus(name, head_ct_corpus, tmp_path):
    # Random vectors for the corpus words stand in for distilled ones (no transformer needed).
    words = corpus_words([head_ct_corpus / "train.spacy"])
    data = numpy.random.default_rng(0).normal(size=(len(words), 8)).astype("float32")
    write_vectors(words, data, tmp_path / "vectors")
    settings = {**overrides(head_ct_corpus), "paths.vectors": str(tmp_path / "vectors")}
    # debug_data exits with status 1 when any check fails.
    debug_data(ROOT / "configs" / name, config_overrides=settings)


def test_only_cpu_config_loads_the_static_vectors():
    # The project's train commands pass --paths.vectors to every config.
    for name, wanted in [("cpu.cfg", True), ("cpu-novectors.cfg", False), ("trf.cfg", False),
                         ("trf-frozen.cfg", False)]:  # fmt: skip
        config = load_config(ROOT / "configs" / name, overrides={"paths.vectors": "v"})
        loads = config.interpolate()["initialize"]["vectors"] == "v"
        assert loads == wanted, name
        if "cpu" in name:
            embed = config["components"]["tok2vec"]["model"]["embed"]
            assert embed["include_static_vectors"] == wanted, name
