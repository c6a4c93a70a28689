"""`radlabels card`: write a pipeline's model card into a meta.json for `spacy package`."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..model_card import CARD_SECTIONS, CardError, build_card_meta, write_card_meta
from ..schema import SchemaError
from . import app
from ._common import fail

EPILOG = """Examples:

  python -m spacy_radlabels card training/cpu/model-best packages/meta-cpu.json --corpus corpus
  --schema assets/schemas/head_ct.yml --metrics metrics/cpu --name radlabels_headct

  python -m spacy package training/cpu/model-best packages --meta-path packages/meta-cpu.json
"""

HELP = (
    "Write a pipeline's meta.json with its model card, for `spacy package --meta-path`.\n\n"
    "spaCy builds the package README from it: a one-line description, the sources, license "
    "and author, then the card (intended use, training data, evaluation on each set named "
    "for what it is, known failure modes, how to retrain, versions and hashes). Figures come "
    "from METRICS/<set>/metrics.json for the sets dev, test_heldout, dev_cases, hard_cases, "
    "probe and openi; sets without a file are left out."
)


@app.command("card", help=HELP, epilog=EPILOG)
def card_cli(
    model_dir: Path = typer.Argument(
        ..., help="Trained pipeline directory. Example: training/cpu/model-best"
    ),
    output_path: Path = typer.Argument(
        ..., help="The meta.json to write. Example: packages/meta-cpu.json"
    ),
    corpus_dir: Path = typer.Option(
        ...,
        "--corpus",
        help="Folder of the training corpus, with the meta.json of `synth`. "
        "Example: --corpus corpus",
    ),
    schema_path: Path = typer.Option(
        ...,
        "--schema",
        help="The schema the corpus was generated from. "
        "Example: --schema assets/schemas/head_ct.yml",
    ),
    metrics_dir: Optional[Path] = typer.Option(
        None,
        "--metrics",
        help="Folder of the pipeline's metrics (dev/, test_heldout/, ...). "
        "Example: --metrics metrics/cpu",
    ),
    name: Optional[str] = typer.Option(
        None, "--name", help="Package name. Example: --name radlabels_headct"
    ),
    version: Optional[str] = typer.Option(
        None, "--version", help="Package version. Example: --version 0.1.0"
    ),
    author: str = typer.Option("", "--author", help="Author. Example: --author 'Jane Doe'"),
    email: str = typer.Option("", "--email", help="Author email."),
    url: str = typer.Option("", "--url", help="Author or project URL."),
    license: str = typer.Option("", "--license", help="License. Example: --license MIT"),
) -> None:
    """Write a pipeline's meta.json with its model card, for `spacy package --meta-path`."""
    try:
        meta = build_card_meta(
            model_dir,
            corpus_dir,
            schema_path,
            metrics_dir,
            name=name,
            version=version,
            author=author,
            email=email,
            url=url,
            license=license,
        )
    except (CardError, SchemaError, OSError) as err:
        fail(str(err))
    write_card_meta(meta, output_path)
    found = ", ".join(meta["radlabels"]["metrics"]) or "none"
    msg.good(f"Wrote {output_path}: {', '.join(CARD_SECTIONS)}; metrics: {found}")
