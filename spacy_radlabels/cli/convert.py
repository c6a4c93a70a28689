"""`radlabels convert`: annotated CSV/JSONL to a `.spacy` training file with gold labels."""

import os
from pathlib import Path
from typing import List

import spacy
import typer
from spacy.tokens import DocBin

from ..annotations import read_annotated
from ..io import InputError, partial_path
from . import app
from ._common import ID_KEY_HELP, TEXT_KEY_HELP, fail

EPILOG = """Examples:

  python -m spacy_radlabels convert annotated.jsonl train.spacy --schema head_ct.yml

  spacy radlabels convert chexpert.csv dev.spacy --schema chest.yml --coding chexpert
  --text-column Report --ignore-column Path

JSONL records look like {"id": "r1", "text": "...", "labels": {"haemorrhage": "positive"}}.
A CSV has a text column and one column per label (names are matched to labels ignoring
case, spaces and hyphens: "Pleural Effusion" is pleural_effusion).
"""

HELP = (
    "Convert annotated reports to a .spacy file with gold in doc._.labels.\n\nEvery label "
    "and state is checked against the schema; an unknown one stops the conversion with "
    "its line and column."
)


@app.command("convert", help=HELP, epilog=EPILOG)
def convert_cli(
    input_path: Path = typer.Argument(
        ..., help="Annotated reports: a .jsonl file or a .csv file with a header line."
    ),
    output_path: Path = typer.Argument(..., help="The .spacy file to write."),
    schema_path: Path = typer.Option(
        ...,
        "--schema",
        help="Schema YAML whose labels and states the annotations must use. "
        "Example: --schema assets/schemas/head_ct.yml",
    ),
    coding: str = typer.Option(
        "auto",
        "--coding",
        help="How label values are written: 'states' (positive/uncertain/negative/absent; "
        "blank = not annotated), 'chexpert' (1/0/-1; blank = absent, or negative when the "
        "schema has no 'absent' state) or 'auto' (detected from the file). "
        "Example: --coding chexpert",
    ),
    text_key: str = typer.Option("text", "--text-column", "--text-key", help=TEXT_KEY_HELP),
    id_key: str = typer.Option("id", "--id-column", "--id-key", help=ID_KEY_HELP),
    ignore_columns: List[str] = typer.Option(
        [],
        "--ignore-column",
        help="A CSV column that is neither text, id nor a label; repeat for several. "
        "Example: --ignore-column Path --ignore-column Age",
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the tokenizer. Example: --lang en"),
) -> None:
    """Convert annotated reports to a .spacy file with gold in doc._.labels."""
    from ..schema import SchemaError, load_schema

    if coding not in ("auto", "states", "chexpert"):
        fail(f"--coding must be 'auto', 'states' or 'chexpert', not '{coding}'.")
    if output_path.suffix != ".spacy":
        fail(f"{output_path}: the output must be a .spacy file.")
    try:
        schema = load_schema(schema_path)
        nlp = spacy.blank(lang)
        doc_bin = DocBin(store_user_data=True)
        reports = read_annotated(
            input_path,
            schema.labels,
            schema.states,
            text_key=text_key,
            id_key=id_key,
            coding=coding,  # type: ignore[arg-type]
            ignore_columns=ignore_columns,
        )
        n_labels = 0
        for report in reports:
            doc = nlp.make_doc(report.text)
            doc._.labels = report.labels
            doc_bin.add(doc)
            n_labels += len(report.labels)
    except (InputError, SchemaError, OSError) as err:
        fail(str(err))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed, so a .spacy file is never half-written.
    doc_bin.to_disk(partial_path(output_path))
    os.replace(partial_path(output_path), output_path)
    typer.echo(f"✔ Wrote {len(doc_bin)} docs with {n_labels} gold labels -> {output_path}")
