"""`radlabels label`: label a file of reports in batch."""

import shlex
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

import typer

from ..batch import label_file, skipped_path
from ..io import InputError, partial_path
from ..loading import check_schema, load_pipeline
from . import app
from ._common import GPU_ID_HELP, ID_KEY_HELP, MODEL_HELP, SCHEMA_HELP, TEXT_KEY_HELP, fail

EPILOG = """Examples:

  python -m spacy_radlabels label training/model-best reports.csv labels.csv --text-column report

  spacy radlabels label en_radlabels_headct reports.jsonl labels.jsonl --scores --evidence

  python -m spacy_radlabels label model-best reports/ labels.csv --format chexpert --n-process 4

  python -m spacy_radlabels label model-best reports.jsonl labels.jsonl --resume
"""

HELP = (
    "Label every report of a CSV, JSONL or .txt folder and write one record per "
    "report.\n\nOutput records keep the input's order, count and ids (records without an id "
    "get their line number). Reports with empty or missing text are labelled all-negative "
    "and flagged in the 'empty_text' field. A malformed record stops the run with its "
    "file and line, and no output file is left, unless --skip-bad is given.\n\n"
    "The output is written to OUTPUT.partial, saved after every batch and renamed to OUTPUT "
    "when complete, so OUTPUT is either absent or whole. A run that was stopped (SIGTERM, "
    "Ctrl-C) or killed can be continued with --resume and the same options."
)


class Stopped(BaseException):
    """The run was asked to stop by a signal (SIGTERM, or SIGINT from Ctrl-C).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into a `Stopped` exception while the block runs, so the
    partial output is flushed and kept for --resume."""

    def handler(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@app.command("label", help=HELP, epilog=EPILOG)
def label_cli(
    ctx: typer.Context,
    model: str = typer.Argument(..., help=MODEL_HELP),
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
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue a stopped or killed run from its last complete batch in "
        "OUTPUT.partial; the options must be the first run's. Without --resume an existing "
        "OUTPUT.partial is replaced. With nothing to resume, starts from the beginning. "
        "Example: --resume",
    ),
    schema: Optional[Path] = typer.Option(
        None,
        "--schema",
        help=SCHEMA_HELP,
    ),
) -> None:
    """Label every report of a CSV, JSONL or .txt folder and write one record per report."""
    if output_format not in ("states", "chexpert"):
        fail(f"--format must be 'states' or 'chexpert', not '{output_format}'.")
    if gpu_id >= 0 and n_process > 1:
        # Forked workers cannot share the parent's CUDA context.
        fail("Use --n-process 1 with --gpu-id: worker processes run on the CPU only.")
    if output_path.suffix.lower() not in (".jsonl", ".csv"):
        fail(f"{output_path}: the output must be a .jsonl or .csv file.")
    if resume and not partial_path(output_path).exists():
        typer.echo(
            f"Nothing to resume ({partial_path(output_path)} does not exist): labelling from "
            "the beginning.",
            err=True,
        )
    try:
        with stop_on_signals():
            nlp, pipe = load_pipeline(model, gpu_id)
            if schema is not None:
                check_schema(pipe, schema, model)
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
                resume=resume,
            )
    except (InputError, OSError, ValueError) as err:
        fail(str(err))
    except Stopped as stop:
        partial = partial_path(output_path)
        if partial.exists():
            command = resume_command(ctx, model, input_path, output_path)
            message = (
                f"⚠ Stopped by {stop}; the reports labelled so far are kept in {partial}. "
                f"To continue, run the same command with --resume:\n  {command}"
            )
        else:
            message = f"⚠ Stopped by {stop}; there is no {partial} to resume."
        typer.secho(message, err=True, fg=typer.colors.YELLOW)
        raise typer.Exit(128 + stop.signum) from None
    if stats.resumed:
        typer.echo(
            f"Resumed after {stats.resumed} reports already in {partial_path(output_path)}",
            err=True,
        )
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


def resume_command(ctx: typer.Context, model: str, input_path: Path, output_path: Path) -> str:
    """Write the command line that resumes this run, for the message of a stopped run.

    The options are taken from the current command line, so the resumed run's match.

    ctx (typer.Context): The command's context, with the options given.
    model (str): The pipeline.
    input_path (Path): The input.
    output_path (Path): The output.
    RETURNS (str): E.g. "python -m spacy_radlabels label MODEL IN OUT --scores --resume".
    """
    args: List[str] = ["python", "-m", "spacy_radlabels", "label"]
    args += [str(model), str(input_path), str(output_path)]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        # Typer bundles its own click: tell options by their kind, not their class.
        is_option = param.param_type_name == "option"
        if not is_option or value == param.default or param.name == "resume":
            continue
        flag = param.opts[0]
        args += [flag] if getattr(param, "is_flag", False) else [flag, str(value)]
    return shlex.join([*args, "--resume"])
