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

  python -m spacy_radlabels label model-best 'archive/*.jsonl' labels/ --dask local:4

  python -m spacy_radlabels label model-best archive/ labels/ --dask tcp://head:8786 --resume
"""

HELP = (
    "Label every report of a CSV, JSONL or .txt folder and write one record per "
    "report.\n\nOutput records keep the input's order, count and ids (records without an id "
    "get their line number). Reports with empty or missing text are labelled all-negative "
    "and flagged in the 'empty_text' field. A malformed record stops the run with its "
    "file and line, and no output file is left, unless --skip-bad is given.\n\n"
    "The output is written to OUTPUT.partial, saved after every batch and renamed to OUTPUT "
    "when complete, so OUTPUT is either absent or whole. A run that was stopped (SIGTERM, "
    "Ctrl-C) or killed can be continued with --resume and the same options.\n\n"
    "With --dask, INPUT is a folder or quoted glob of shards (.jsonl, .csv, .parquet files, "
    "folders of .txt files, or a Parquet dataset) and OUTPUT a folder that gets one output "
    "shard per input shard plus manifest.json; each shard is written exactly once, and "
    "--resume skips the shards the manifest lists as done."
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
    dask: Optional[str] = typer.Option(
        None,
        "--dask",
        help="Label the shards of INPUT on a Dask cluster (needs the package's 'dask' "
        "extra): a scheduler address, or 'local' / 'local:N' for N worker processes on this "
        "machine. OUTPUT is then a folder. Example: --dask tcp://head:8786",
    ),
    shard_format: str = typer.Option(
        "jsonl",
        "--shard-format",
        help="With --dask, the output shards' format: jsonl (nested objects), csv or parquet "
        "(one column per label). Example: --shard-format parquet",
    ),
) -> None:
    """Label every report of a CSV, JSONL or .txt folder and write one record per report."""
    if output_format not in ("states", "chexpert"):
        fail(f"--format must be 'states' or 'chexpert', not '{output_format}'.")
    if dask is not None:
        if n_process > 1:
            fail("--n-process is for one machine; with --dask, the cluster's workers label.")
        label_on_dask(
            ctx,
            model,
            input_path,
            output_path,
            dask,
            shard_format=shard_format,
            text_key=text_key,
            id_key=id_key,
            fmt=output_format,
            scores=scores,
            evidence=evidence,
            skip_bad=skip_bad,
            batch_size=batch_size,
            gpu_id=gpu_id,
            resume=resume,
        )
        return
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


def label_on_dask(
    ctx: typer.Context,
    model: str,
    input_path: Path,
    output_dir: Path,
    address: str,
    **options: Any,
) -> None:
    """Run `label --dask`: label the shards of INPUT on a Dask cluster into OUTPUT_DIR.

    ctx (typer.Context): The command's context, for the resume command.
    model (str): The pipeline.
    input_path (Path): The shards (a folder, glob or one shard).
    output_dir (Path): The output folder.
    address (str): The --dask address.
    options (Any): The other keyword arguments of `label_archive`.
    """
    try:
        from ..dask_label import label_archive
    except ImportError as err:
        fail(str(err))
    if output_dir.suffix.lower() in (".jsonl", ".csv"):
        fail(f"{output_dir}: with --dask the output is a folder of shards, not a file.")
    try:
        with stop_on_signals():
            stats = label_archive(model, str(input_path), output_dir, address, **options)
    except (InputError, OSError, ValueError) as err:
        fail(str(err))
    except Stopped as stop:
        command = resume_command(ctx, model, input_path, output_dir)
        typer.secho(
            f"⚠ Stopped by {stop}; the finished shards are listed in "
            f"{output_dir / 'manifest.json'}. To label the rest, run the same command with "
            f"--resume:\n  {command}",
            err=True,
            fg=typer.colors.YELLOW,
        )
        raise typer.Exit(128 + stop.signum) from None
    if stats.resumed:
        typer.echo(f"Kept {stats.resumed} shards already in the manifest", err=True)
    typer.echo(
        f"✔ Labelled {stats.written} reports ({stats.empty} with empty text) in "
        f"{stats.shards} shards ({stats.labelled} by this run) -> {output_dir}; output "
        f"records match input records in every shard",
        err=True,
    )
    if options["skip_bad"]:
        typer.echo(
            f"{stats.skipped} bad records skipped, listed in each shard's NAME.skipped.jsonl",
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
