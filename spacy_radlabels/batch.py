"""Batch labelling of report files: stream records through a pipeline into an output file.

Records leave in the order they came, one output record per input record. Reports with
empty or missing text are labelled all-negative and flagged `empty_text`. A bad record
stops the run (and no output is left) unless bad records are skipped, in which case each
skipped record's line, id and reason go to a side file `OUTPUT.skipped.jsonl`.

Output is written to `OUTPUT.partial`, flushed after every batch, and renamed when
complete. A run that was killed can be resumed: the options it ran with are kept in
`OUTPUT.resume.json`; a resumed run with the same options keeps the partial file's complete
batches, skips that many good input records (rebuilding the side file as it reads them)
and labels the rest, so its output equals an uninterrupted run's, byte for byte. A complete
output gets `OUTPUT.meta.json` beside it: the model's name, version and weights hash and the
options it was labelled with.
"""

import hashlib
import json
import multiprocessing
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, Iterator, List, Literal, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .chexpert import check_codable, to_chexpert
from .io import (
    InputError,
    PartialOutput,
    RecordWriter,
    Row,
    csv_cell,
    describe,
    input_format,
    is_utf8,
    partial_path,
    read_rows,
    scan_partial,
)
from .loading import pipeline_identity

OutputFormat = Literal["states", "chexpert"]
EMPTY_STATE = "negative"
# Batches queued per worker process: enough to keep workers busy, few enough for flat memory.
IN_FLIGHT = 4
# The pipeline and output options of a worker process, set by `_init_worker`.
_WORKER: Dict[str, Any] = {}
# The run settings kept for --resume, with what each is called on the command line.
SETTING_NAMES = {
    "input": "INPUT",
    "text_key": "--text-key",
    "id_key": "--id-key",
    "fmt": "--format",
    "scores": "--scores",
    "evidence": "--evidence",
    "skip_bad": "--skip-bad",
    "batch_size": "--batch-size",
    "pipeline": "MODEL (name and version)",
    "labels": "MODEL's labels",
    "states": "MODEL's states",
    "weights": "MODEL's weights",
    "ops": "device (--gpu-id)",
}


class ResumeError(InputError):
    """A partial output that cannot be resumed with this run's input, model or options."""


@dataclass
class ReportRecord:
    """What travels with a report through the pipeline (kept small: it is pickled).

    line (int): The record's line in the input.
    id (Any): The record's id, or its line number when it has none.
    empty (bool): Whether its text is empty or missing.
    """

    line: int
    id: Any
    empty: bool


@dataclass
class LabelStats:
    """What a labelling run did.

    written (int): Records written to the output.
    skipped (int): Bad records skipped (listed in the side file).
    empty (int): Records with empty or missing text.
    resumed (int): Records kept from the partial output of an earlier run.
    """

    written: int = 0
    skipped: int = 0
    empty: int = 0
    resumed: int = 0


@dataclass
class OutputOptions:
    """What each output record holds (kept small: it is sent to worker processes).

    labels (List[str]): The pipeline's labels.
    states (List[str]): The pipeline's states.
    fmt (str): "states" (state words) or "chexpert" (1, 0, -1, blank).
    scores (bool): Include the probability of every state.
    evidence (bool): Include each label's evidence text.
    flat (bool): One key per column (for CSV) instead of nested objects (JSONL).
    """

    labels: List[str]
    states: List[str]
    fmt: OutputFormat = "states"
    scores: bool = False
    evidence: bool = False
    flat: bool = False


def skipped_path(output: Path) -> Path:
    """Name the side file that lists skipped records.

    output (Path): The output path.
    RETURNS (Path): OUTPUT.skipped.jsonl next to it.
    """
    return output.with_name(output.name + ".skipped.jsonl")


def meta_path(output: Path) -> Path:
    """Name the file that says what wrote an output: the model, its version and the options.

    output (Path): The output file.
    RETURNS (Path): OUTPUT.meta.json next to it.
    """
    return output.with_name(output.name + ".meta.json")


def resume_path(output: Path) -> Path:
    """Name the file that keeps a run's settings until its output is complete.

    output (Path): The output path.
    RETURNS (Path): OUTPUT.resume.json next to it.
    """
    return output.with_name(output.name + ".resume.json")


def run_settings(
    nlp: Language,
    pipe: Any,
    input_path: Path,
    options: OutputOptions,
    *,
    text_key: str,
    id_key: str,
    skip_bad: bool,
    batch_size: int,
) -> Dict[str, Any]:
    """Collect what decides a run's output bytes, to check that a resumed run matches.

    The number of processes is left out: it does not change the output.

    nlp (Language): The pipeline.
    pipe (Any): Its `radlabels` component.
    input_path (Path): The input.
    options (OutputOptions): The output options.
    text_key (str): Key or column of the report text.
    id_key (str): Key or column of the id.
    skip_bad (bool): Whether bad records are skipped.
    batch_size (int): Reports per batch.
    RETURNS (Dict[str, Any]): JSON-serialisable settings, keyed as in SETTING_NAMES.
    """
    return {
        "input": str(input_path.resolve()),
        "text_key": text_key,
        "id_key": id_key,
        "fmt": options.fmt,
        "scores": options.scores,
        "evidence": options.evidence,
        "skip_bad": skip_bad,
        "batch_size": batch_size,
        "pipeline": pipeline_identity(nlp),
        "labels": options.labels,
        "states": options.states,
        "weights": hashlib.sha256(pipe.model.to_bytes()).hexdigest()[:16],
        "ops": type(pipe.model.ops).__name__,
    }


def check_settings(output_path: Path, settings: Dict[str, Any]) -> None:
    """Check that a partial output was written with the same settings as this run.

    output_path (Path): The output path (its partial and settings files are next to it).
    settings (Dict[str, Any]): This run's `run_settings`.
    """
    partial, path = partial_path(output_path), resume_path(output_path)
    again = "run again without --resume to start from the beginning (replaces the partial file)."
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResumeError(
            f"{partial}: cannot resume it, {path.name} (the options it was written with) is "
            f"missing; {again}"
        ) from None
    except ValueError as err:
        raise ResumeError(f"{path}: unreadable ({err}); {again}") from None
    changed = changed_settings(before, settings)
    if changed:
        raise ResumeError(
            f"{partial}: cannot resume it with different settings, the output would mix "
            f"them: {'; '.join(changed)}. Resume with the first run's options, or {again}"
        )


def changed_settings(before: Dict[str, Any], now: Dict[str, Any]) -> List[str]:
    """Say which run settings differ from an earlier run's, as the user would name them.

    before (Dict[str, Any]): The earlier run's `run_settings`.
    now (Dict[str, Any]): This run's.
    RETURNS (List[str]): One phrase per changed setting, e.g. "--scores (then False, now True)".
    """
    return [
        f"{SETTING_NAMES.get(key, key)} (then {before.get(key)!r}, now {value!r})"
        for key, value in now.items()
        if before.get(key) != value
    ]


def skip_labelled(
    reports: Iterator[Tuple[str, ReportRecord]],
    start: PartialOutput,
    output_path: Path,
    input_path: Path,
    stats: LabelStats,
) -> None:
    """Consume the reports whose records a partial output already holds.

    The last one's id must be the last kept record's, or the input has changed.

    reports (Iterator[Tuple[str, ReportRecord]]): The input's reports, from `iter_reports`.
    start (PartialOutput): The partial output's kept records.
    output_path (Path): The output path, for messages.
    input_path (Path): The input, for messages.
    stats (LabelStats): Counts empty reports among those consumed.
    """
    partial = partial_path(output_path)
    changed = "the input changed since it was written. Run again without --resume."
    record = None
    for _ in range(start.count):
        item = next(reports, None)
        if item is None:
            raise ResumeError(
                f"{partial}: holds {start.count} records but {input_path} has fewer good "
                f"records; {changed}"
            )
        record = item[1]
        stats.empty += record.empty
    if record is None or start.last is None:
        return
    kept = start.last.get("id")
    now = csv_cell(record.id) if output_path.suffix.lower() == ".csv" else record.id
    if json.dumps(now) != json.dumps(kept):
        where = describe(input_path, Row(record.line, {"id": record.id}))
        raise ResumeError(
            f"{partial}: its record {start.count} has id {kept!r}, but input report "
            f"{start.count} ({where}) has id {record.id!r}; {changed}"
        )


def output_columns(
    labels: Sequence[str], states: Sequence[str], scores: bool, evidence: bool
) -> List[str]:
    """List the CSV output columns.

    labels (Sequence[str]): The pipeline's labels.
    states (Sequence[str]): The pipeline's states.
    scores (bool): Add a `label.state` probability column per label and state.
    evidence (bool): Add a `label.evidence` text column per label.
    RETURNS (List[str]): id, empty_text, one column per label, then the optional ones.
    """
    columns = ["id", "empty_text", *labels]
    if scores:
        columns += [f"{label}.{state}" for label in labels for state in states]
    if evidence:
        columns += [f"{label}.evidence" for label in labels]
    return columns


def iter_reports(
    path: Path, text_key: str, id_key: str, on_bad: Optional[RecordWriter]
) -> Iterator[Tuple[str, ReportRecord]]:
    """Stream (text, record) pairs from an input file, checking every record.

    path (Path): A .csv, .jsonl or .parquet file, or a folder of .txt files.
    text_key (str): Key or column of the report text.
    id_key (str): Key or column of the id.
    on_bad (Optional[RecordWriter]): Where skipped records are listed; None stops the run
        at the first bad record with an `InputError`.
    YIELDS (Tuple[str, ReportRecord]): The text ("" when empty) and its record.
    """
    # Only tables have columns; a JSONL record may lack its text key (empty text).
    is_table = input_format(path) in ("csv", "parquet")
    for row in read_rows(path):
        error = row.error or check_row(row, text_key, id_key)
        if error is None and is_table and text_key not in (row.data or {}):
            raise InputError(
                f"{path}: no text column '{text_key}' (columns: {list(row.data or {})}); "
                "choose it with --text-column."
            )
        record_id = (row.data or {}).get(id_key)
        if error is not None:
            if on_bad is None:
                raise InputError(
                    f"{describe(path, row)}: {error}. Fix the record, or pass --skip-bad "
                    "to skip bad records and list them in a side file."
                )
            on_bad.write({"line": row.line, "id": record_id, "reason": error})
            continue
        text = (row.data or {}).get(text_key) or ""
        if record_id is None or record_id == "":
            record_id = row.line
        yield text, ReportRecord(row.line, record_id, not text.strip())


def check_row(row: Row, text_key: str, id_key: str) -> Optional[str]:
    """Check that a readable record's text is a string and that text and id can be written.

    row (Row): A record that was read.
    text_key (str): Key or column of the text.
    id_key (str): Key or column of the id.
    RETURNS (Optional[str]): Why the record is bad, or None.
    """
    data = row.data or {}
    text = data.get(text_key)
    if text is not None and not isinstance(text, str):
        return f"'{text_key}' is a {type(text).__name__}, expected a string"
    # JSON escapes can hold lone surrogates ("\\ud800"), which no UTF-8 output can encode.
    for key in (text_key, id_key):
        if not is_utf8(json.dumps(data.get(key), ensure_ascii=False)):
            return f"'{key}' holds lone surrogate characters that UTF-8 cannot encode"
    return None


def format_record(record: ReportRecord, doc: Doc, options: OutputOptions) -> Dict[str, Any]:
    """Build one output record from a labelled doc.

    record (ReportRecord): The input record.
    doc (Doc): Its doc after the pipeline.
    options (OutputOptions): What the record holds.
    RETURNS (Dict[str, Any]): The output record.
    """
    labels, states = options.labels, options.states
    doc_evidence: Dict[str, Optional[str]] = {}
    if record.empty:
        doc_states = {label: EMPTY_STATE for label in labels}
        doc_scores = {label: {s: float(s == EMPTY_STATE) for s in states} for label in labels}
    else:
        doc_states = doc._.labels
        doc_scores = doc._.label_scores
        if options.evidence:  # Spans are built on access: only pay for them when asked.
            doc_evidence = {
                label: span.text if span is not None else None
                for label, span in doc._.label_evidence.items()
            }
    values = {
        label: to_chexpert(doc_states[label]) if options.fmt == "chexpert" else doc_states[label]
        for label in labels
    }
    out: Dict[str, Any] = {"id": record.id, "empty_text": record.empty}
    if options.flat:
        out.update(values)
        if options.scores:
            out.update(
                {f"{label}.{s}": round(doc_scores[label][s], 6) for label in labels for s in states}
            )
        if options.evidence:
            out.update({f"{label}.evidence": doc_evidence.get(label) for label in labels})
        return out
    out["labels"] = values
    if options.scores:
        out["scores"] = {
            label: {s: round(doc_scores[label][s], 6) for s in states} for label in labels
        }
    if options.evidence:
        out["evidence"] = {label: doc_evidence.get(label) for label in labels}
    return out


def label_records(
    nlp: Language,
    reports: Iterable[Tuple[str, ReportRecord]],
    options: OutputOptions,
    batch_size: int = 128,
    n_process: int = 1,
) -> Iterator[Dict[str, Any]]:
    """Label a stream of reports and yield their output records in input order.

    With several processes, workers return finished output records rather than Docs:
    serialising a Doc costs about as much as labelling it, which made spaCy's own
    `nlp.pipe(n_process=...)` slower than one process. At most IN_FLIGHT batches per
    worker are queued, so memory stays flat on any number of reports.

    nlp (Language): The pipeline.
    reports (Iterable[Tuple[str, ReportRecord]]): (text, record) pairs, e.g. `iter_reports`.
    options (OutputOptions): What each output record holds.
    batch_size (int): Reports per batch.
    n_process (int): Worker processes; 1 labels in this process.
    YIELDS (Dict[str, Any]): One output record per report.
    """
    if n_process == 1:
        for doc, record in nlp.pipe(reports, as_tuples=True, batch_size=batch_size):
            yield format_record(record, doc, options)
        return
    context = multiprocessing.get_context()
    # Each worker's BLAS gets its share of the cores (numpy_matmul.v1 would take them all).
    blas_threads = max(1, (os.cpu_count() or 1) // n_process)
    init_args = (nlp, options, batch_size, blas_threads)
    with context.Pool(n_process, _init_worker, init_args) as pool:
        pending: Deque[Any] = deque()
        for batch in minibatch(reports, batch_size):
            pending.append(pool.apply_async(_label_batch, (batch,)))
            if len(pending) >= IN_FLIGHT * n_process:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _init_worker(nlp: Language, options: OutputOptions, batch_size: int, blas_threads: int) -> None:
    """Keep the pipeline and output options in a worker process, and cap its BLAS threads.

    The parent stops the workers: they leave SIGTERM to its default and ignore Ctrl-C, so
    the parent's handlers (inherited by a fork) do not run in them.
    """
    threadpool_limits(limits=blas_threads, user_api="blas")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(nlp=nlp, options=options, batch_size=batch_size)


def _label_batch(batch: List[Tuple[str, ReportRecord]]) -> List[Dict[str, Any]]:
    """Label one batch in a worker process.

    batch (List[Tuple[str, ReportRecord]]): (text, record) pairs.
    RETURNS (List[Dict[str, Any]]): Their output records, in order.
    """
    docs = _WORKER["nlp"].pipe(batch, as_tuples=True, batch_size=_WORKER["batch_size"])
    return [format_record(record, doc, _WORKER["options"]) for doc, record in docs]


def label_file(
    nlp: Language,
    pipe: Any,
    input_path: Path,
    output_path: Path,
    *,
    text_key: str = "text",
    id_key: str = "id",
    fmt: OutputFormat = "states",
    scores: bool = False,
    evidence: bool = False,
    skip_bad: bool = False,
    batch_size: int = 128,
    n_process: int = 1,
    resume: bool = False,
    progress: bool = True,
) -> LabelStats:
    """Label every report of an input file and write the output atomically.

    The output (and the side file of skipped records) is written to `NAME.partial`,
    flushed after every batch and renamed when complete; the run's settings are kept in
    OUTPUT.resume.json until then. On a bad record without `skip_bad`, the partial files
    are deleted and an `InputError` naming the file and line is raised. On any other
    exception (e.g. KeyboardInterrupt, or one raised by a SIGTERM handler) the partial
    files are kept, to be resumed.

    nlp (Language): The pipeline.
    pipe (Any): Its `radlabels` component (for `.labels` and `.states`).
    input_path (Path): A .csv or .jsonl file, or a folder of .txt files.
    output_path (Path): A .jsonl or .csv file.
    text_key (str): Key or column of the report text.
    id_key (str): Key or column of the id.
    fmt (str): "states" or "chexpert".
    scores (bool): Include probabilities.
    evidence (bool): Include evidence text.
    skip_bad (bool): Skip bad records, listing them in OUTPUT.skipped.jsonl.
    batch_size (int): Reports per batch.
    n_process (int): Worker processes.
    resume (bool): Continue OUTPUT.partial from an earlier run with the same settings
        (a `ResumeError` if they differ); start from the beginning if there is none.
        Without it, an existing OUTPUT.partial is replaced.
    progress (bool): Show a progress bar with reports/second on stderr.
    RETURNS (LabelStats): Counts of written, skipped, empty and resumed records.
    """
    labels, states = list(pipe.labels), list(pipe.states)
    if fmt == "chexpert":
        check_codable(states)
    flat = output_path.suffix.lower() == ".csv"
    options = OutputOptions(labels, states, fmt, scores, evidence, flat)
    columns = output_columns(labels, states, scores, evidence) if flat else None
    settings = run_settings(
        nlp,
        pipe,
        input_path,
        options,
        text_key=text_key,
        id_key=id_key,
        skip_bad=skip_bad,
        batch_size=batch_size,
    )
    start: Optional[PartialOutput] = None
    if resume and partial_path(output_path).exists():
        check_settings(output_path, settings)
        start = scan_partial(partial_path(output_path), columns, every=batch_size)
    stats = LabelStats(resumed=start.count if start is not None else 0)
    # The side file is rebuilt from the input, also when resuming.
    bad_writer = RecordWriter(skipped_path(output_path)) if skip_bad else None
    reports = iter_reports(input_path, text_key, id_key, bad_writer)
    try:
        if start is not None:
            skip_labelled(reports, start, output_path, input_path, stats)
        else:
            # No settings file while the partial file is replaced: a kill in between
            # cannot pair a new partial file with old settings.
            resume_path(output_path).unlink(missing_ok=True)
        writer = RecordWriter(output_path, columns, start)
    except BaseException:
        if bad_writer is not None:
            bad_writer.discard()
        raise
    try:
        if start is None:
            write_json_atomic(resume_path(output_path), settings)
        records = label_records(nlp, reports, options, batch_size, n_process)
        bar = tqdm(
            records,
            unit=" reports",
            file=sys.stderr,
            disable=not progress,
            mininterval=0.5,
            initial=writer.count,
        )
        for out in bar:
            writer.write(out)
            stats.empty += out["empty_text"]
            if writer.count % batch_size == 0:
                writer.flush()
        bar.close()
    except InputError:
        writer.discard()
        if bad_writer is not None:
            bad_writer.discard()
        resume_path(output_path).unlink(missing_ok=True)
        raise
    except BaseException:
        # Killed (SIGTERM, Ctrl-C) or crashed: keep what was written, to be resumed.
        writer.close()
        if bad_writer is not None:
            bad_writer.close()
        raise
    stats.written = writer.count
    if bad_writer is not None:
        stats.skipped = bad_writer.count
        bad_writer.commit()
    writer.commit()
    write_json_atomic(meta_path(output_path), {**settings, "records": stats.written})
    resume_path(output_path).unlink(missing_ok=True)
    return stats


def write_json_atomic(path: Path, data: Any) -> None:
    """Write a JSON file that is either whole or absent, even if the process is killed.

    path (Path): The file.
    data (Any): What to write.
    """
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)
