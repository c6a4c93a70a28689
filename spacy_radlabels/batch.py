"""Batch labelling of report files: stream records through a pipeline into an output file.

Records leave in the order they came, one output record per input record. Reports with
empty or missing text are labelled all-negative and flagged `empty_text`. A bad record
stops the run (and no output is left) unless bad records are skipped, in which case each
skipped record's line, id and reason go to a side file `OUTPUT.skipped.jsonl`.
"""

import json
import multiprocessing
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, Iterator, List, Literal, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch
from tqdm import tqdm

from .chexpert import check_codable, to_chexpert
from .io import InputError, RecordWriter, Row, describe, input_format, is_utf8, read_rows

OutputFormat = Literal["states", "chexpert"]
EMPTY_STATE = "negative"
# Batches queued per worker process: enough to keep workers busy, few enough for flat memory.
IN_FLIGHT = 4
# The pipeline and output options of a worker process, set by `_init_worker`.
_WORKER: Dict[str, Any] = {}


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
    """

    written: int = 0
    skipped: int = 0
    empty: int = 0


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

    path (Path): A .csv or .jsonl file, or a folder of .txt files.
    text_key (str): Key or column of the report text.
    id_key (str): Key or column of the id.
    on_bad (Optional[RecordWriter]): Where skipped records are listed; None stops the run
        at the first bad record with an `InputError`.
    YIELDS (Tuple[str, ReportRecord]): The text ("" when empty) and its record.
    """
    is_csv = input_format(path) == "csv"
    for row in read_rows(path):
        error = row.error or check_row(row, text_key, id_key)
        if error is None and is_csv and text_key not in (row.data or {}):
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
    with context.Pool(n_process, _init_worker, (nlp, options, batch_size)) as pool:
        pending: Deque[Any] = deque()
        for batch in minibatch(reports, batch_size):
            pending.append(pool.apply_async(_label_batch, (batch,)))
            if len(pending) >= IN_FLIGHT * n_process:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _init_worker(nlp: Language, options: OutputOptions, batch_size: int) -> None:
    """Keep the pipeline and output options in a worker process."""
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
    progress: bool = True,
) -> LabelStats:
    """Label every report of an input file and write the output atomically.

    The output (and the side file of skipped records) is written to `NAME.partial` and
    renamed when complete. On a bad record without `skip_bad`, the partial files are
    deleted and an `InputError` naming the file and line is raised.

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
    progress (bool): Show a progress bar with reports/second on stderr.
    RETURNS (LabelStats): Counts of written, skipped and empty records.
    """
    labels, states = list(pipe.labels), list(pipe.states)
    if fmt == "chexpert":
        check_codable(states)
    flat = output_path.suffix.lower() == ".csv"
    options = OutputOptions(labels, states, fmt, scores, evidence, flat)
    columns = output_columns(labels, states, scores, evidence) if flat else None
    stats = LabelStats()
    writer = RecordWriter(output_path, columns)
    bad_writer = RecordWriter(skipped_path(output_path)) if skip_bad else None
    try:
        reports = iter_reports(input_path, text_key, id_key, bad_writer)
        records = label_records(nlp, reports, options, batch_size, n_process)
        bar = tqdm(records, unit=" reports", file=sys.stderr, disable=not progress, mininterval=0.5)
        for out in bar:
            writer.write(out)
            stats.empty += out["empty_text"]
        bar.close()
    except InputError:
        writer.discard()
        if bad_writer is not None:
            bad_writer.discard()
        raise
    stats.written = writer.count
    if bad_writer is not None:
        stats.skipped = bad_writer.count
        bad_writer.commit()
    writer.commit()
    return stats
