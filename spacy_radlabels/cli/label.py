"""`radlabels label`: label a file of reports in batch."""

from pathlib import Path

import typer

from ..batch import label_file, skipped_path
from ..io import InputError
from ..loading import load_pipeline
from . import app
from ._common import GPU_ID_HELP, ID_KEY_HELP, TEXT_KEY_HELP, fail

EPILOG = """Examples:

  python -m spacy_radlabels label training/model-best reports.csv labels.csv --text-column report

  spacy radlabels label en_radlabels_headct reports.jsonl labels.jsonl --scores --evidence

  python -m spacy_radlabels label model-best reports/ labels.csv --format chexpert --n-process 4
"""

HELP = (
    "Label every report of a CSV, JSONL or .txt folder and write one record per "
    "report.\n\nOutput records keep the input's order, count and ids (records without an id "
    "get their line number). Reports with empty or missing text are labelled all-negative "
    "and flagged in the 'empty_text' field. A malformed record stops the run with its "
    "file and line, and no output file is left, unless --skip-bad is given."
)


@app.command("label", help=HELP, epilog=EPILOG)
def label_cli(
    model: str = typer.Argument(
        ..., help="Trained pipeline: a directory (e.g. training/model-best) or package name."
    ),
    input_path: Path = typer.Argument(
        ...,
        help="Reports to label: a .csv file (with a header line), a .jsonl file (one object "
        "a line) or a folder of .txt files (one report each; the file name is the id).",
    ),
    output_path: Path = typer.Argument(
        ...,
        help="Where to write the labels: .jsonl (nested objects) or .csv (one column per "
        "label). Written to OUTPUT.partial and renamed when complete.",
    ),
    text_key: str = typer.Option("text", "--text-column", "--text-key", help=TEXT_KEY_HELP),
    id_key: str = typer.Option("id", "--id-column", "--id-key", help=ID_KEY_HELP),
    output_format: str = typer.Option(
        "states",
        "--format",
        help="'states' writes state words (positive, uncertain, negative); 'chexpert' writes "
        "CheXpert codes: positive 1, negative 0, uncertain -1, absent blank. "
        "Example: --format chexpert",
    ),
    scores: bool = typer.Option(
        False,
        "--scores",
        help="Also write every state's probability (JSONL key 'scores'; CSV columns "
        "'label.state'). Example: --scores",
    ),
    evidence: bool = typer.Option(
        False,
        "--evidence",
        help="Also write each non-negative label's evidence text, the words around its "
        "attention peak (JSONL key 'evidence'; CSV columns 'label.evidence'). Example: --evidence",
    ),
    skip_bad: bool = typer.Option(
        False,
        "--skip-bad",
        help="Skip malformed records (bad JSON, wrong CSV field count, non-text report) "
        "instead of stopping, and list their line, id and reason in OUTPUT.skipped.jsonl. "
        "Example: --skip-bad",
    ),
    batch_size: int = typer.Option(
        128, "--batch-size", min=1, help="Reports per batch. Example: --batch-size 256"
    ),
    n_process: int = typer.Option(
        1, "--n-process", min=1, help="Worker processes (CPU). Example: --n-process 4"
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", help=GPU_ID_HELP),
) -> None:
    """Label every report of a CSV, JSONL or .txt folder and write one record per report."""
    if output_format not in ("states", "chexpert"):
        fail(f"--format must be 'states' or 'chexpert', not '{output_format}'.")
    if gpu_id >= 0 and n_process > 1:
        # Forked workers cannot share the parent's CUDA context.
        fail("Use --n-process 1 with --gpu-id: worker processes run on the CPU only.")
    if output_path.suffix.lower() not in (".jsonl", ".csv"):
        fail(f"{output_path}: the output must be a .jsonl or .csv file.")
    try:
        nlp, pipe = load_pipeline(model, gpu_id)
        stats = label_file(
            nlp,
            pipe,
            input_path,
            output_path,
            text_key=text_key,
            id_key=id_key,
            fmt=output_format,  # type: ignore[arg-type]
            scores=scores,
            evidence=evidence,
            skip_bad=skip_bad,
            batch_size=batch_size,
            n_process=n_process,
        )
    except (InputError, OSError, ValueError) as err:
        fail(str(err))
    typer.echo(
        f"✔ Labelled {stats.written} reports ({stats.empty} with empty text) -> {output_path}",
        err=True,
    )
    if stats.written and stats.empty == stats.written:
        typer.secho(
            f"⚠ Every report had empty or missing '{text_key}' text, so all are labelled "
            "negative; is the text under another key? Choose it with --text-key.",
            err=True,
            fg=typer.colors.YELLOW,
        )
    if skip_bad:
        typer.echo(
            f"{stats.skipped} bad records skipped, listed in {skipped_path(output_path)}",
            err=True,
        )
