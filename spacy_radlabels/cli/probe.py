"""`radlabels probe`: behavioural probe cases from a schema, scored on a pipeline."""

from pathlib import Path

import typer
from wasabi import msg

from ..io import InputError
from ..loading import check_schema, load_pipeline
from ..report import (
    probe_capability_header,
    probe_capability_rows,
    probe_summary_items,
    probe_to_html,
    probe_to_markdown,
    write_reports,
)
from . import app
from ._common import GPU_ID_HELP, MODEL_HELP, fail

EPILOG = """Examples:

  python -m spacy_radlabels probe training/cpu/model-best --schema assets/schemas/head_ct.yml
  --output metrics/cpu/probe

  spacy radlabels probe training/chest-cpu/model-best --schema assets/schemas/chest_xray.yml
  -o metrics/chest-cpu/probe
"""

HELP = (
    "Probe a pipeline with short behavioural cases built from its schema and write JSON, "
    "Markdown and HTML reports.\n\nPer label: positive, negated and hedged statements with the "
    "cue before and after the finding; label-free sentences (history, technique, "
    "comparison, normal study); impression-only and findings-only text; upper case, a typo, "
    "a line break; a negated finding beside a positive one. Reports target accuracy per "
    "state and the spurious rate (positive or uncertain on labels a case does not mention) "
    "per capability, with the worst cases. The probe's wording is its own, apart from the "
    "synthetic generator's templates."
)


@app.command("probe", help=HELP, epilog=EPILOG)
def probe_cli(
    model: str = typer.Argument(..., help=MODEL_HELP),
    schema_path: Path = typer.Option(
        ...,
        "--schema",
        help="Schema YAML the pipeline was trained with; the cases are built from its labels, "
        "variants, states and hierarchy. Example: --schema assets/schemas/head_ct.yml",
    ),
    output_dir: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="Folder for metrics.json, metrics.md and report.html. Example: --output metrics/probe",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seeds the choice of variants and pairings. Example: --seed 1"
    ),
    n_worst: int = typer.Option(
        25, "--worst", min=0, help="How many failed cases to list. Example: --worst 50"
    ),
    batch_size: int = typer.Option(
        64, "--batch-size", min=1, help="Cases per batch. Example: --batch-size 128"
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", help=GPU_ID_HELP),
) -> None:
    """Probe a pipeline with behavioural cases built from its schema and write reports."""
    from ..probe import run_probe
    from ..schema import load_schema

    try:
        schema = load_schema(schema_path)
        nlp, pipe = load_pipeline(model, gpu_id)
        check_schema(pipe, schema_path, model)
        metrics = run_probe(nlp, schema, seed=seed, batch_size=batch_size, n_worst=n_worst)
    except (InputError, OSError, ValueError) as err:
        fail(str(err))
    title = f"Probe of {model} ({schema.name} schema)"
    paths = write_reports(metrics, output_dir, title, probe_to_markdown, probe_to_html)
    msg.table(probe_summary_items(metrics), divider=False)
    msg.table(probe_capability_rows(metrics), header=probe_capability_header(metrics), divider=True)
    msg.good(f"Wrote {', '.join(str(path) for path in paths)}")
