"""Synthetic radiology reports rendered from a schema and template files, with exact gold.

`templates` loads and checks template files, `grammar` renders phrases and sentences,
`generator` plans and renders whole reports, `corpus` writes `.spacy`/`.jsonl` splits.
"""

from .corpus import mix_real, read_real, write_corpus
from .generator import ReportGenerator
from .templates import TemplateError, Templates, load_templates

__all__ = [
    "ReportGenerator",
    "TemplateError",
    "Templates",
    "load_templates",
    "mix_real",
    "read_real",
    "write_corpus",
]
