"""Options and error reporting shared by the `radlabels` subcommands."""

from typing import NoReturn

import typer

TEXT_KEY_HELP = (
    "JSONL key or CSV column of the report text (both spellings work). "
    "Example: --text-column report_text"
)
ID_KEY_HELP = (
    "JSONL key or CSV column of the record id; records without one get their line number. "
    "Example: --id-key accession"
)
MODEL_HELP = "Trained pipeline: a directory (e.g. training/model-best) or package name."
SCHEMA_HELP = (
    "Schema YAML file the labels must follow: stop if the pipeline was trained with other "
    "labels or states. Example: --schema assets/schemas/head_ct.yml"
)
GPU_ID_HELP = "GPU to run on (claimed before the model loads); -1 for the CPU. Example: --gpu-id 0"


def fail(message: str) -> NoReturn:
    """Print an error on stderr and exit with status 1.

    message (str): What was wrong, where, and what to do.
    """
    typer.secho(f"✘ {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)
