"""Label an archive of report shards on a Dask cluster, writing each shard exactly once.

The client lists the input shards (JSONL or CSV files, folders of .txt files, or the files
of a Parquet dataset) and submits one task per shard. Each worker loads the pipeline once,
through a `PipelinePlugin`; a task reads its shard with the readers `label` uses, labels it
in order and writes one output shard under a temporary name of its own, renamed when
complete, so a task that Dask retries after losing a worker (or that runs twice) can never
leave a half or doubled shard. The client records each finished shard in
OUTPUT_DIR/manifest.json (input, record counts, checksums, model, options); a run with
`resume` skips the shards whose entry still matches. At the end the client counts the
records of every output shard on disk against the input records its task read.

Importing this module needs `distributed` (`pip install spacy-radlabels[dask]`); the rest
of the package never imports it.
"""

import glob
import json
import logging
import os
import re
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Literal, Optional, Tuple

from .batch import (
    OutputFormat,
    OutputOptions,
    ResumeError,
    changed_settings,
    iter_reports,
    label_records,
    output_columns,
    run_settings,
    skipped_path,
    write_json_atomic,
)
from .chexpert import check_codable
from .io import InputError, ParquetRecordWriter, RecordWriter, checksum, read_csv_rows
from .loading import load_pipeline

try:
    from distributed import (
        Client,
        KilledWorker,
        LocalCluster,
        WorkerPlugin,
        as_completed,
        get_worker,
    )
except ImportError as err:
    raise ImportError(
        f"Labelling on Dask needs dask and distributed ({err}): pip install spacy-radlabels[dask]"
    ) from err

ShardFormat = Literal["jsonl", "csv", "parquet"]
SHARD_FORMATS = ("jsonl", "csv", "parquet")
MANIFEST = "manifest.json"
# Input files that are shards; a sub-folder of .txt files is a shard too.
SHARD_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet")
# A task attempt's temporary files: .NAME.UUID.SUFFIX, maybe with .skipped.jsonl, .partial.
TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{32}\.(jsonl|csv|parquet)(\.skipped\.jsonl)?(\.partial)?$")
# Seconds between manifest writes: a killed client re-labels at most this much on resume.
MANIFEST_EVERY = 1.0


class ShardFailed(ValueError):
    """A shard whose task killed every worker that ran it (e.g. out of memory)."""


@dataclass
class ShardTask:
    """What one task needs to label one shard (kept small: it is sent to a worker).

    input (str): The input shard: a file, or a folder of .txt files.
    output_dir (str): The output folder.
    name (str): The output shard's name in it, without suffix (may hold folders).
    plugin (str): The name of the worker plugin that holds the pipeline.
    options (OutputOptions): What each output record holds.
    shard_format (str): "jsonl", "csv" or "parquet".
    text_key (str): Key or column of the report text.
    id_key (str): Key or column of the id.
    skip_bad (bool): Skip bad records into OUTPUT.skipped.jsonl instead of failing.
    batch_size (int): Reports per batch.
    """

    input: str
    output_dir: str
    name: str
    plugin: str
    options: OutputOptions
    shard_format: ShardFormat
    text_key: str
    id_key: str
    skip_bad: bool
    batch_size: int


@dataclass
class ArchiveStats:
    """What a Dask labelling run did.

    shards (int): Input shards.
    labelled (int): Shards labelled by this run.
    resumed (int): Shards kept from an earlier run (their manifest entry matched).
    records (int): Input records in all shards.
    written (int): Output records in all shards.
    skipped (int): Bad records skipped (listed in the shards' side files).
    empty (int): Records with empty or missing text.
    """

    shards: int = 0
    labelled: int = 0
    resumed: int = 0
    records: int = 0
    written: int = 0
    skipped: int = 0
    empty: int = 0


class PipelinePlugin(WorkerPlugin):
    """Load the pipeline once in every worker, also in workers that join or restart later.

    model (str): An installed pipeline's name or a pipeline directory the workers can read.
    gpu_id (int): GPU each worker runs on, or -1 for the CPU.
    weights (str): The hash of the weights the client loaded (`run_settings`), so a plugin
        already registered under the same name holds the same pipeline.
    """

    def __init__(self, model: str, gpu_id: int, weights: str) -> None:
        self.model = model
        self.gpu_id = gpu_id
        self.prefix = f"spacy-radlabels:{model}:{gpu_id}:"
        self.name = self.prefix + weights
        self.nlp: Any = None

    def setup(self, worker: Any) -> None:
        """Load the pipeline in the worker.

        worker (Any): The `distributed.Worker`.
        """
        self.nlp, _ = load_pipeline(self.model, self.gpu_id)


def register_pipeline(client: Any, plugin: PipelinePlugin) -> None:
    """Have every worker load the pipeline, unless it holds it from an earlier run.

    A plugin for the same model and device with other weights (the model was retrained)
    is removed first, so workers keep one copy of each pipeline.

    client (Any): The `distributed.Client`.
    plugin (PipelinePlugin): The pipeline's plugin.
    """
    registered = client.run_on_scheduler(_worker_plugin_names)
    if plugin.name in registered:
        return
    for name in registered:
        if name.startswith(plugin.prefix):
            client.unregister_worker_plugin(name)
    client.register_plugin(plugin)


def _worker_plugin_names(dask_scheduler: Any) -> List[str]:
    """List the worker plugins registered with a scheduler (runs on the scheduler).

    dask_scheduler (Any): The `distributed.Scheduler`.
    RETURNS (List[str]): Their names.
    """
    return list(dask_scheduler.worker_plugins)


def parse_address(address: str) -> Tuple[Optional[str], int]:
    """Tell a scheduler address from a request for a local cluster.

    address (str): "tcp://host:8786" (any scheduler address), "local" or "local:N".
    RETURNS (Tuple[Optional[str], int]): (address, 0) for a scheduler, or (None, N) for a
        LocalCluster of N worker processes ("local" is one per CPU core).
    """
    if address == "local":
        return None, os.cpu_count() or 1
    if address.startswith("local:"):
        count = address.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"--dask {address}: the number of local worker processes must be a whole "
                "number of at least 1, e.g. --dask local:4."
            )
        return None, int(count)
    if "://" not in address and ":" not in address:
        raise ValueError(
            f"--dask {address}: give a scheduler address (tcp://host:8786) or 'local' / "
            "'local:N' for N worker processes on this machine."
        )
    return address, 0


def find_shards(input_spec: str) -> List[Tuple[Path, str]]:
    """List the input shards and name the output shard of each.

    input_spec (str): A folder of shards (JSONL, CSV or Parquet files, folders of .txt
        files), a Parquet dataset folder (files found recursively), a glob pattern of
        shards, or one shard.
    RETURNS (List[Tuple[Path, str]]): (input shard, output name without suffix) in name
        order; output names keep the shards' paths relative to the input folder.
    """
    path = Path(input_spec)
    if glob.has_magic(input_spec):
        shards = [Path(name) for name in sorted(glob.glob(input_spec)) if is_shard(Path(name))]
        named = [(shard, shard.stem if shard.is_file() else shard.name) for shard in shards]
    elif path.is_dir() and any(path.glob("*.txt")):
        named = [(path, path.name)]
    elif path.is_dir():
        shards = [child for child in sorted(path.iterdir()) if is_shard(child)]
        if not shards:
            # A Parquet dataset: files in (partition) folders; _ and . names are metadata.
            shards = [
                file_
                for file_ in sorted(path.rglob("*.parquet"))
                if not any(part[0] in "_." for part in file_.relative_to(path).parts)
            ]
        named = [(shard, relative_name(shard, path)) for shard in shards]
    elif path.exists():
        named = [(path, path.stem)]
    else:
        raise InputError(f"{input_spec}: no such file, folder or matching files.")
    if not named:
        raise InputError(
            f"{input_spec}: no shards found. Give a folder (or a quoted glob pattern) of "
            f".jsonl, .csv or .parquet files or of folders of .txt files."
        )
    seen: Dict[str, Path] = {}
    for shard, name in named:
        if name in seen:
            raise InputError(
                f"{seen[name]} and {shard} would both write the output shard '{name}'; "
                "rename one of them."
            )
        seen[name] = shard
    return named


def is_shard(path: Path) -> bool:
    """Tell whether a path is an input shard.

    path (Path): A file or folder.
    RETURNS (bool): A file with a shard suffix, or a folder holding .txt files.
    """
    if path.name.startswith((".", "_")):
        return False
    if path.is_dir():
        return any(path.glob("*.txt"))
    return path.suffix.lower() in SHARD_SUFFIXES


def relative_name(shard: Path, root: Path) -> str:
    """Name a shard's output after its path inside the input folder, without its suffix.

    shard (Path): The input shard.
    root (Path): The input folder.
    RETURNS (str): E.g. "part-0003" or "year=2020/part-0".
    """
    relative = shard.relative_to(root)
    return (relative if shard.is_dir() else relative.with_suffix("")).as_posix()


def parquet_schema(options: OutputOptions) -> Any:
    """Type the columns of a Parquet output shard.

    options (OutputOptions): What each record holds.
    RETURNS (Any): A `pyarrow.Schema`: id as text, one column per label (state words, or
        CheXpert codes as small integers), then the score and evidence columns.
    """
    import pyarrow

    labels, states = options.labels, options.states
    state = pyarrow.int8() if options.fmt == "chexpert" else pyarrow.string()
    types = {"id": pyarrow.string(), "empty_text": pyarrow.bool_()}
    types.update({label: state for label in labels})
    columns = output_columns(labels, states, options.scores, options.evidence)
    for column in columns[len(types) :]:
        types[column] = pyarrow.string() if column.endswith(".evidence") else pyarrow.float64()
    return pyarrow.schema([(column, types[column]) for column in columns])


def count_records(path: Path) -> int:
    """Count the records of an output shard on disk.

    path (Path): A .jsonl, .csv or .parquet output shard (or a .jsonl side file).
    RETURNS (int): Its records (CSV: rows after the header, fields may span lines).
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if suffix == ".csv":
        return sum(1 for _ in read_csv_rows(path))
    with path.open("rb") as file_:
        return sum(1 for line in file_ if line.strip())


def label_shard(task: ShardTask) -> Dict[str, Any]:
    """Label one shard on a worker and write its output shard atomically.

    The output (and its side file of skipped records) is written under a name unique to
    this attempt and renamed over the output name when complete: two attempts at one
    shard (a retry after a lost worker) cannot mix, and either leaves the same whole file.

    task (ShardTask): The shard and the options.
    RETURNS (Dict[str, Any]): The shard's manifest entry.
    """
    nlp = get_worker().plugins[task.plugin].nlp
    output = f"{task.name}.{task.shard_format}"
    final = Path(task.output_dir) / output
    temporary = final.with_name(f".{final.stem}.{uuid.uuid4().hex}{final.suffix}")
    if task.shard_format == "parquet":
        writer: Any = ParquetRecordWriter(temporary, parquet_schema(task.options))
    else:
        columns = None
        if task.shard_format == "csv":
            opts = task.options
            columns = output_columns(opts.labels, opts.states, opts.scores, opts.evidence)
        writer = RecordWriter(temporary, columns)
    bad_writer = RecordWriter(skipped_path(temporary)) if task.skip_bad else None
    source = Path(task.input)
    reports = iter_reports(source, task.text_key, task.id_key, bad_writer)
    empty = 0
    try:
        for out in label_records(nlp, reports, task.options, task.batch_size):
            if task.shard_format == "parquet":
                out["id"] = str(out["id"])
            writer.write(out)
            empty += out["empty_text"]
        writer.commit()
        skipped = 0
        if bad_writer is not None:
            skipped = bad_writer.count
            bad_writer.commit()
    except BaseException:
        writer.discard()
        if bad_writer is not None:
            bad_writer.discard()
        raise
    # The side file first: an output shard that exists has its side file beside it.
    if bad_writer is not None:
        os.replace(skipped_path(temporary), skipped_path(final))
    else:
        skipped_path(final).unlink(missing_ok=True)
    output_sum = checksum(temporary)
    os.replace(temporary, final)
    return {
        "input": str(source),
        "input_sha256": checksum(source),
        "output": output,
        "output_sha256": output_sum,
        "records": writer.count + skipped,
        "written": writer.count,
        "skipped": skipped,
        "empty": empty,
    }


@contextmanager
def connect(address: str, progress: bool = True) -> Iterator[Any]:
    """Connect to a scheduler, or start a LocalCluster of worker processes for the block.

    address (str): As for `parse_address`.
    progress (bool): Print the dashboard link of a LocalCluster on stderr.
    YIELDS (Any): A `distributed.Client`.
    """
    scheduler, n_workers = parse_address(address)
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)

        dashboard: Optional[str] = ":0"
    except ImportError:
        dashboard = None
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=dashboard,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        if progress:
            link = cluster.dashboard_link if dashboard else "none (pip install bokeh for one)"
            print(f"Dask LocalCluster of {n_workers} workers; dashboard: {link}", file=sys.stderr)
        yield client


def label_archive(
    model: str,
    input_spec: str,
    output_dir: Path,
    address: str,
    *,
    shard_format: ShardFormat = "jsonl",
    text_key: str = "text",
    id_key: str = "id",
    fmt: OutputFormat = "states",
    scores: bool = False,
    evidence: bool = False,
    skip_bad: bool = False,
    batch_size: int = 128,
    gpu_id: int = -1,
    resume: bool = False,
    progress: bool = True,
) -> ArchiveStats:
    """Label every shard of an archive on a Dask cluster, one output shard per input shard.

    On a bad record without `skip_bad`, the task's `InputError` (naming the file and line)
    is raised here after the other tasks are cancelled; the shards finished by then stay
    in the manifest, for `resume`.

    model (str): An installed pipeline's name or a pipeline directory the workers can read.
    input_spec (str): Shards, as for `find_shards`.
    output_dir (Path): Where the output shards and manifest.json go.
    address (str): A scheduler address, "local" or "local:N" (see `parse_address`).
    shard_format (str): Output shards as "jsonl", "csv" or "parquet".
    text_key (str): Key or column of the report text.
    id_key (str): Key or column of the id.
    fmt (str): "states" or "chexpert".
    scores (bool): Include probabilities.
    evidence (bool): Include evidence text.
    skip_bad (bool): Skip bad records, listing them in NAME.skipped.jsonl per shard.
    batch_size (int): Reports per batch.
    gpu_id (int): GPU each worker runs on, or -1 for the CPU.
    resume (bool): Skip the shards whose manifest entry matches (same settings, input and
        output checksums); without it, every shard is labelled.
    progress (bool): Show a progress bar over shards and records on stderr.
    RETURNS (ArchiveStats): Counts of shards and records.
    """
    if shard_format not in SHARD_FORMATS:
        raise ValueError(
            f"--shard-format must be one of {list(SHARD_FORMATS)}, not '{shard_format}'."
        )
    shards = find_shards(input_spec)
    # The client reads the labels and settings; only the workers claim GPUs.
    nlp, pipe = load_pipeline(model)
    labels, states = list(pipe.labels), list(pipe.states)
    if fmt == "chexpert":
        check_codable(states)
    options = OutputOptions(labels, states, fmt, scores, evidence, flat=shard_format != "jsonl")
    settings = run_settings(
        nlp, pipe, Path(input_spec), options,
        text_key=text_key, id_key=id_key, skip_bad=skip_bad, batch_size=batch_size,
    )  # fmt: skip
    settings.update(shard_format=shard_format, ops=f"gpu {gpu_id}" if gpu_id >= 0 else "cpu")
    manifest_path = output_dir / MANIFEST
    done = resumable_entries(manifest_path, settings, shards, output_dir) if resume else {}
    manifest = {
        "model": {key: nlp.meta.get(key) for key in ("name", "version")},
        "settings": settings,
        "shards": done,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(manifest_path, manifest)
    stats = ArchiveStats(shards=len(shards), resumed=len(done))
    todo = [(shard, name) for shard, name in shards if name not in done]
    if todo:
        with connect(address, progress) as client:
            plugin = PipelinePlugin(model, gpu_id, settings["weights"])
            register_pipeline(client, plugin)
            tasks = [
                ShardTask(
                    str(shard),
                    str(output_dir),
                    name,
                    plugin.name,
                    options,
                    shard_format,
                    text_key,
                    id_key,
                    skip_bad,
                    batch_size,
                )
                for shard, name in todo
            ]
            futures = {
                client.submit(label_shard, task, key=f"radlabels-{name}-{uuid.uuid4().hex}"): name
                for task, (_, name) in zip(tasks, todo)
            }
            run_tasks(futures, manifest, manifest_path, stats, progress)
    remove_leftovers(output_dir)
    check_counts(manifest, shards, output_dir, shard_format)
    for entry in manifest["shards"].values():
        stats.records += entry["records"]
        stats.written += entry["written"]
        stats.skipped += entry["skipped"]
        stats.empty += entry["empty"]
    return stats


def run_tasks(
    futures: Dict[Any, str],
    manifest: Dict[str, Any],
    manifest_path: Path,
    stats: ArchiveStats,
    progress: bool,
) -> None:
    """Wait for the shard tasks, recording each finished shard in the manifest.

    futures (Dict[Any, str]): Each task's future and its shard's output name.
    manifest (Dict[str, Any]): The manifest, updated in place.
    manifest_path (Path): Where it is written (at most every MANIFEST_EVERY seconds).
    stats (ArchiveStats): Counts shards labelled.
    progress (bool): Show a progress bar.
    """
    from tqdm import tqdm

    bar = tqdm(total=len(futures), unit=" shards", file=sys.stderr, disable=not progress)
    records, written_at = 0, time.monotonic()
    try:
        for future in as_completed(list(futures)):
            try:
                entry = future.result()  # A task's exception is raised here.
            except KilledWorker as err:
                raise ShardFailed(
                    f"Shard {futures[future]}: every worker that labelled it died ({err}), "
                    "so Dask gave up on it. Check the workers' logs and memory (a huge "
                    "report?), then run again with --resume."
                ) from None
            manifest["shards"][futures[future]] = entry
            stats.labelled += 1
            records += entry["records"]
            bar.set_postfix(records=records, refresh=False)
            bar.update()
            if time.monotonic() - written_at >= MANIFEST_EVERY:
                write_json_atomic(manifest_path, manifest)
                written_at = time.monotonic()
    finally:
        bar.close()
        for future in futures:
            future.cancel()
        write_json_atomic(manifest_path, manifest)


def resumable_entries(
    manifest_path: Path, settings: Dict[str, Any], shards: List[Tuple[Path, str]], output_dir: Path
) -> Dict[str, Dict[str, Any]]:
    """Find the shards an earlier run finished with the same settings and input.

    manifest_path (Path): The earlier run's manifest.
    settings (Dict[str, Any]): This run's settings; a `ResumeError` if they differ.
    shards (List[Tuple[Path, str]]): This run's input shards and output names.
    output_dir (Path): The output folder.
    RETURNS (Dict[str, Dict[str, Any]]): Manifest entries by output name, for the shards
        whose input and output checksums still match.
    """
    if not manifest_path.exists():
        return {}
    again = "Run again without --resume to label every shard."
    try:
        before = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ResumeError(f"{manifest_path}: unreadable ({err}). {again}") from None
    changed = changed_settings(before.get("settings", {}), settings)
    if changed:
        raise ResumeError(
            f"{manifest_path}: cannot resume with different settings, the shards would mix "
            f"them: {'; '.join(changed)}. Resume with the first run's options, or {again}"
        )
    kept = {}
    for shard, name in shards:
        entry = before.get("shards", {}).get(name)
        if entry is None:
            continue
        output = output_dir / entry["output"]
        if (
            output.exists()
            and entry["input_sha256"] == checksum(shard)
            and entry["output_sha256"] == checksum(output)
        ):
            kept[name] = entry
    return kept


def remove_leftovers(output_dir: Path) -> None:
    """Delete the temporary files of task attempts that died (lost workers).

    output_dir (Path): The output folder.
    """
    for path in output_dir.rglob(".*"):
        if TEMPORARY.match(path.name):
            path.unlink(missing_ok=True)


def check_counts(
    manifest: Dict[str, Any], shards: List[Tuple[Path, str]], output_dir: Path, shard_format: str
) -> None:
    """Check, shard by shard, that the records on disk are the input records read.

    manifest (Dict[str, Any]): The manifest of the finished run.
    shards (List[Tuple[Path, str]]): The input shards and output names.
    output_dir (Path): The output folder.
    shard_format (str): The output shards' format.
    """
    problems = []
    for shard, name in shards:
        entry = manifest["shards"].get(name)
        if entry is None:
            problems.append(f"{shard}: not labelled (no manifest entry)")
            continue
        output = output_dir / f"{name}.{shard_format}"
        found = count_records(output) if output.exists() else 0
        side = skipped_path(output)
        found += count_records(side) if side.exists() else 0
        if found != entry["records"]:
            problems.append(
                f"{shard}: {entry['records']} input records but {found} in {output} and "
                "its side file"
            )
    if problems:
        raise InputError(
            "Output records differ from input records: " + "; ".join(problems) + ". Run "
            "again with --resume to label these shards again."
        )
