"""spacy-radlabels: per-label attention for labelling radiology reports in spaCy."""

from . import tokenizer  # noqa: F401  (registers the report tokenizer callback)
from .extensions import install_extensions

install_extensions()

__version__ = "0.1.0"
__all__ = ["install_extensions", "render"]


def render(doc, **kwargs) -> str:
    """Render labelled docs as self-contained HTML with attention shading.

    See `spacy_radlabels.display.render`; imported lazily to keep `import` fast.
    """
    from .display import render as render_docs

    return render_docs(doc, **kwargs)
