"""Load a trained pipeline for the tools, find its `radlabels` component, walk its layers."""

from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple, Union

import spacy
from spacy.language import Language
from spacy.util import is_package
from thinc.api import Model

from .schema import load_schema

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
    check_pipeline_path(model)
    nlp = spacy.load(model)
    return nlp, find_radlabels(nlp)


def check_pipeline_path(model: Union[str, Path]) -> None:
    """Check that a pipeline name is an installed package or a pipeline directory.

    model (Union[str, Path]): An installed pipeline's name or a pipeline directory.
    """
    path = Path(model)
    if not path.exists():
        if is_package(str(model)):
            return
        siblings = sorted(path.parent.iterdir()) if path.parent.is_dir() else []
        nearby = [str(p) for p in siblings if (p / "config.cfg").exists()][:3]
        hint = f" Pipelines next to it: {nearby}." if nearby else ""
        raise ValueError(
            f"Pipeline '{model}' is neither a directory nor an installed package; give a "
            f"trained pipeline directory (e.g. training/model-best) or a package name.{hint}"
        )
    if not path.is_dir():
        raise ValueError(
            f"Pipeline '{model}' is a file; give the trained pipeline's directory (the one "
            "holding config.cfg, e.g. training/model-best)."
        )
    if not (path / "config.cfg").exists():
        inside = [name for name in ("model-best", "model-last") if (path / name).is_dir()]
        hint = f" It holds {inside}: use {path / inside[0]}." if inside else ""
        raise ValueError(
            f"Pipeline directory '{model}' has no config.cfg, so it is not a trained "
            f"pipeline.{hint} Give the directory that `spacy train` wrote "
            "(e.g. training/model-best)."
        )


def check_schema(pipe: Any, schema_path: Union[str, Path], model: Union[str, Path]) -> None:
    """Check that a pipeline was trained with a schema's labels and states.

    The order may differ; output follows the pipeline's order.

    pipe (Any): The pipeline's `radlabels` component.
    schema_path (Union[str, Path]): The schema YAML file the user asks for.
    model (Union[str, Path]): The pipeline's name or directory, for the message.
    """
    schema = load_schema(schema_path)
    problems = [
        *_differences("labels", schema.labels, pipe.labels),
        *_differences("states", schema.states, pipe.states),
    ]
    if problems:
        raise ValueError(
            f"Pipeline '{model}' was trained with a different label set than the schema "
            f"{schema_path}: {'; '.join(problems)}. Use a pipeline trained with this schema "
            f"(spacy train configs/cpu.cfg --paths.schema {schema_path} ...), or pass "
            "--schema with the schema the pipeline was trained with."
        )


def _differences(kind: str, wanted: Sequence[str], found: Sequence[str]) -> List[str]:
    """Say which names a schema has that a pipeline lacks, and the other way round.

    kind (str): "labels" or "states".
    wanted (Sequence[str]): The schema's names.
    found (Sequence[str]): The pipeline's names.
    RETURNS (List[str]): Up to two phrases; none when the sets are equal.
    """
    missing = [name for name in wanted if name not in found]
    extra = [name for name in found if name not in wanted]
    problems = []
    if missing:
        problems.append(f"{kind} in the schema but not the pipeline: {missing}")
    if extra:
        problems.append(f"{kind} in the pipeline but not the schema: {extra}")
    return problems


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


def pipeline_nodes(nlp: Language) -> Iterator[Model]:
    """Walk every layer of the pipeline's component models (components without one skipped).

    nlp (Language): The pipeline.
    YIELDS (Model): Each component model's nodes, as `Model.walk` gives them.
    """
    for _, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if isinstance(model, Model):
            yield from model.walk()


def pipeline_identity(nlp: Language) -> Dict[str, Any]:
    """Name a pipeline as its package does, for outputs to say which model wrote them.

    nlp (Language): The pipeline.
    RETURNS (Dict[str, Any]): Its meta's "lang", "name" and "version".
    """
    return {key: nlp.meta.get(key) for key in ("lang", "name", "version")}
