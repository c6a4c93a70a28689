"""Load a trained pipeline for the tools and find its `radlabels` component."""

from pathlib import Path
from typing import Any, Tuple, Union

import spacy
from spacy.language import Language
from spacy.util import is_package

FACTORY = "radlabels"


def load_pipeline(model: Union[str, Path], gpu_id: int = -1) -> Tuple[Language, Any]:
    """Load a pipeline (on a GPU if asked) and return it with its `radlabels` component.

    model (Union[str, Path]): An installed pipeline's name or a pipeline directory.
    gpu_id (int): GPU to run on, or -1 for the CPU. The GPU is claimed before loading, so
        the weights are allocated on it.
    RETURNS (Tuple[Language, Any]): The pipeline and its `radlabels` component.
    """
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    if not Path(model).exists() and not is_package(str(model)):
        raise ValueError(
            f"Pipeline '{model}' is neither a directory nor an installed package; give a "
            "trained pipeline directory (e.g. training/model-best) or a package name."
        )
    nlp = spacy.load(model)
    return nlp, find_radlabels(nlp)


def find_radlabels(nlp: Language) -> Any:
    """Find the pipeline's `radlabels` component, whatever it was named.

    nlp (Language): The pipeline.
    RETURNS (Any): The component, with `.labels` and `.states`.
    """
    for name, pipe in nlp.pipeline:
        if nlp.get_pipe_meta(name).factory == FACTORY:
            return pipe
    raise ValueError(
        f"The pipeline has no '{FACTORY}' component (it has {nlp.pipe_names}); train one "
        "with a config that adds the 'radlabels' factory."
    )
