"""`spacy-radlabels.numpy_matmul.v1`: the pipeline's matrix products through numpy."""

import numpy
import spacy
from thinc.api import NumpyOps, Ops

from spacy_radlabels.cpu_ops import use_numpy_matmul
from spacy_radlabels.loading import pipeline_nodes

TEXTS = ["No acute haemorrhage.", "Possible left MCA infarct.", ""]
CALLBACK = {"nlp": {"after_pipeline_creation": {"@callbacks": "spacy-radlabels.numpy_matmul.v1"}}}


def test_callback_moves_every_cpu_layer_to_numpy_matmul_with_the_same_output(
    trained_pipeline, tmp_path
):
    before = spacy.load(trained_pipeline)
    assert all(node.ops.use_blis for node in pipeline_nodes(before))
    # A trained pipeline takes it as a config override; it then travels with the pipeline.
    after = spacy.load(trained_pipeline, config=CALLBACK)
    after.to_disk(tmp_path / "pipeline")
    for nlp in (after, spacy.load(tmp_path / "pipeline")):
        assert all(
            type(node.ops) is NumpyOps and not node.ops.use_blis for node in pipeline_nodes(nlp)
        )
    for a, b in zip(before.pipe(TEXTS), after.pipe(TEXTS)):
        assert a._.labels == b._.labels
        for label, scores in a._.label_scores.items():
            numpy.testing.assert_allclose(
                list(scores.values()), list(b._.label_scores[label].values()), atol=1e-5
            )


def test_callback_leaves_other_backends_alone(trained_pipeline):
    nlp = spacy.load(trained_pipeline)
    other = Ops()  # as CupyOps on GPU: not NumpyOps
    for node in pipeline_nodes(nlp):
        node.ops = other
    use_numpy_matmul(nlp)
    assert all(node.ops is other for node in pipeline_nodes(nlp))
