"""`radlabels evaluate`: score a pipeline on annotated data and write a report."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..evaluation import evaluate_pipeline
from ..gold import GoldError
from ..io import InputError
from ..loading import check_schema, load_pipeline
from ..report import label_header, label_rows, summary_items, write_reports
from . import app
from ._common import GPU_ID_HELP, MODEL_HELP, SCHEMA_HELP, fail

EPILOG = """Examples:

  python -m spacy_radlabels evaluate training/model-best corpus/test.spacy --output metrics/test

  spacy radlabels evaluate en_radlabels_headct annotated.jsonl --output metrics/real --gpu-id 0
"""

HELP = (
    "Score a pipeline against gold labels and write JSON, Markdown and HTML "
    "reports.\n\nReports per-label and per-state precision, recall, F1 and support, micro "
    "and macro F1 over the finding states (positive, uncertain), accuracy, Cohen's kappa "
    "per label and confusion matrices. Labels missing from a doc's gold are not scored "
    "for that doc."
)


@app.command("evaluate", help=HELP, epilog=EPILOG)
def evaluate_cli(
    model: str = typer.Argument(..., help=MODEL_HELP),
    data_path: Path = typer.Argument(
        ...,
        help="Annotated reports: a .spacy file with gold in doc._.labels (from 'convert' or "
        '\'synth\'), or a .jsonl file of {"text", "labels": {label: state}} records.',
    ),
    output_dir: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="Folder for metrics.json, metrics.md and report.html. Example: --output metrics/dev",
    ),
    batch_size: int = typer.Option(
        64, "--batch-size", min=1, help="Reports per batch. Example: --batch-size 128"
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", help=GPU_ID_HELP),
    schema: Optional[Path] = typer.Option(
        None,
        "--schema",
        help=SCHEMA_HELP,
    ),
) -> None:
    """Score a pipeline against gold labels and write JSON, Markdown and HTML reports."""
    try:
        nlp, pipe = load_pipeline(model, gpu_id)
        if schema is not None:
            check_schema(pipe, schema, model)
        metrics = evaluate_pipeline(nlp, data_path, batch_size=batch_size)
    except (InputError, GoldError, OSError, ValueError) as err:
        fail(str(err))
    identity = metrics["model"]
    title = f"Evaluation of {model} ({identity['lang']}_{identity['name']} {identity['version']})"
    paths = write_reports(metrics, output_dir, f"{title} on {data_path.name}")
    msg.table(summary_items(metrics), divider=False)
    msg.table(label_rows(metrics), header=label_header(metrics), divider=True)
    msg.good(f"Wrote {', '.join(str(path) for path in paths)}")
