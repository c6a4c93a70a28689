"""The `radlabels` command line: `spacy radlabels ...` and `python -m spacy_radlabels ...`."""

import typer

app = typer.Typer(
    name="radlabels",
    help="Label radiology reports with spacy-radlabels: synthesise training reports, "
    "convert annotations, label files in batch, evaluate, probe and explain a pipeline.",
    no_args_is_help=True,
    add_completion=False,
)

# Each module adds its subcommand to `app` on import.
from . import card, convert, evaluate, explain, label, probe, synth, vectors  # noqa: E402, F401
