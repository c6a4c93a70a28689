"""Training through `spacy train` with the shipped configs."""

import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example

CONFIGS = Path(__file__).parent.parent / "configs"


def test_spacy_train_cpu_novectors_config_fits_fixture(tiny_corpus, tmp_path):
    # The config without static vectors trains without the transformers extra.
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(CONFIGS / "cpu-novectors.cfg"),
         "--output", str(tmp_path), "--paths.train", str(tiny_corpus),
         "--paths.dev", str(tiny_corpus), "--training.max_steps", "250",
         "--training.eval_frequency", "50"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    nlp = spacy.load(tmp_path / "model-best")
    docs = list(DocBin().from_disk(tiny_corpus).get_docs(nlp.vocab))
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    scores = nlp.evaluate(examples)
    assert scores["labels_acc"] == 1.0
    assert scores["labels_macro_f"] == 1.0


def test_cue_lexicon_4_trains_and_loads_with_the_readme_override(tiny_corpus, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "spacy", "train", str(CONFIGS / "cpu-novectors.cfg"),
         "--output", str(tmp_path), "--paths.train", str(tiny_corpus),
         "--paths.dev", str(tiny_corpus), "--training.max_steps", "50",
         "--training.eval_frequency", "25",
         "--components.tok2vec.model.embed.@architectures",
         "spacy-radlabels.CueMultiHashEmbed.v4"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    nlp = spacy.load(tmp_path / "model-best")
    tok2vec = nlp.get_pipe("tok2vec").model
    versions = {node.attrs["cue_version"] for node in tok2vec.walk() if node.name == "cue_features"}
    assert versions == {4}
    doc = nlp("INDICATION: ?haemorrhage.\n\nFINDINGS: No haemorrhage.")
    assert set(doc._.labels) == set(nlp.get_pipe("radlabels").labels)


def test_trf_config_loss_falls(tiny_corpus):
    pytest.importorskip("spacy_transformers")
    config = spacy.util.load_config(CONFIGS / "trf.cfg")
    config["training"]["optimizer"]["learn_rate"] = 0.00005
    config["components"]["transformer"]["model"]["get_spans"]["window"] = 32
    config["components"]["transformer"]["model"]["get_spans"]["stride"] = 24
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    docs = list(DocBin().from_disk(tiny_corpus).get_docs(nlp.vocab))[:12]
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    losses = []
    for _ in range(8):
        losses.append(nlp.update(examples, sgd=optimizer)["radlabels"])
    assert losses[-1] < 0.7 * losses[0], losses
