"""Streaming readers and atomic writers for report files (CSV, JSONL, Parquet, .txt folders).

Readers yield one `Row` per record with its line number, so every error can name its
place in the file, and never hold more than one record in memory. Writers write to a
partial file next to the output and rename it when complete, so a file at the output
path is always whole. A partial file left by a killed run can be resumed: `scan_partial`
finds where its complete records end, and a `RecordWriter` continues from there.
"""

import csv
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Literal, Optional, Sequence, Tuple

InputFormat = Literal["csv", "jsonl", "txt", "parquet"]
PARTIAL_SUFFIX = ".partial"
# Parquet support comes with the optional extra that also brings Dask.
PYARROW_MISSING = "Parquet needs pyarrow: pip install spacy-radlabels[dask]"
# Rows per Parquet record batch read or row group written: flat memory, few row groups.
PARQUET_BATCH = 4096

# Reports can be long; the csv module's default field limit (131,072 chars) is not a limit
# of the data, so lift it once.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class InputError(ValueError):
    """A malformed input file or record; the message names the file and line."""


@dataclass
class Row:
    """One input record: its fields, or why it could not be read.

    line (int): Line number of the record's first line in the file (1-based); for a folder
        of .txt files, the file's position in name order.
    data (Optional[Dict[str, Any]]): The record's fields; for a bad record, None or what
        could be read of it (such as its id).
    error (Optional[str]): Why the record could not be read; None when it is good.
    """

    line: int
    data: Optional[Dict[str, Any]] = None
    error: Optional[str] = None


def describe(path: Path, row: Row) -> str:
    """Say where a record is, for messages: the file and line, or the .txt file.

    path (Path): The input path given by the user.
    row (Row): The record.
    RETURNS (str): E.g. "reports.jsonl, line 12", "reports/0042.txt" or "part-0.parquet, row 3".
    """
    if path.is_dir() and row.data is not None and "id" in row.data:
        return str(path / row.data["id"])
    if path.suffix.lower() == ".parquet":
        return f"{path}, row {row.line}"
    return f"{path}, line {row.line}"


def input_format(path: Path) -> InputFormat:
    """Tell the format of an input path from its suffix (or that it is a folder).

    path (Path): A .csv, .jsonl or .parquet file, or a folder of .txt files.
    RETURNS (str): "csv", "jsonl", "parquet" or "txt".
    """
    if path.is_dir():
        return "txt"
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".txt":
        return "txt"
    raise InputError(
        f"{path}: unknown input format '{suffix}'. Use a .csv or .jsonl file, or a folder "
        "of .txt files."
    )


def read_rows(path: Path) -> Iterator[Row]:
    """Stream the records of a CSV, JSONL or .txt file/folder, one `Row` each.

    path (Path): The input; its format comes from `input_format`.
    YIELDS (Row): The records in file order; for .txt files, `data` is
        {"id": file name, "text": contents}.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file or folder.")
    fmt = input_format(path)
    if fmt == "csv":
        yield from read_csv_rows(path)
    elif fmt == "jsonl":
        yield from read_jsonl_rows(path)
    elif fmt == "parquet":
        yield from read_parquet_rows(path)
    else:
        yield from read_txt_rows(path)


def read_jsonl_rows(path: Path) -> Iterator[Row]:
    """Stream the JSON objects of a JSONL file; blank lines are not records.

    path (Path): The .jsonl file (UTF-8, optional BOM).
    YIELDS (Row): One per non-blank line.
    """
    with path.open("rb") as file_:
        for line_no, raw in enumerate(file_, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as err:
                yield Row(line_no, error=f"not valid UTF-8 ({err.reason} at byte {err.start})")
                continue
            except json.JSONDecodeError as err:
                yield Row(line_no, error=f"invalid JSON ({err.msg} at character {err.pos + 1})")
                continue
            if not isinstance(data, dict):
                kind = type(data).__name__
                yield Row(line_no, error=f"expected a JSON object, found {kind}")
                continue
            yield Row(line_no, data=data)


def read_csv_rows(path: Path) -> Iterator[Row]:
    """Stream the rows of a CSV file with a header line as dicts keyed by column.

    path (Path): The .csv file (UTF-8, optional BOM); quoted fields may span lines.
    YIELDS (Row): One per non-blank row after the header.
    """
    # surrogateescape keeps undecodable bytes, so a bad row can be reported, not the file.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file_:
        # strict: a stray quote or an unterminated field is a bad row, not a silent guess.
        reader = csv.reader(file_, strict=True)
        header = read_csv_header(path, reader)
        while True:
            line_no = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield Row(line_no, error=f"unreadable CSV ({err})")
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                yield Row(
                    line_no,
                    error=f"expected {len(header)} fields like the header, found {len(fields)}",
                )
            elif not all(is_utf8(field) for field in fields):
                yield Row(line_no, error="not valid UTF-8")
            else:
                yield Row(line_no, data=dict(zip(header, fields)))


def read_parquet_rows(path: Path) -> Iterator[Row]:
    """Stream the rows of a Parquet file as dicts keyed by column.

    path (Path): The .parquet file (one file of a dataset).
    YIELDS (Row): One per row; `line` is the row number (1-based).
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(f"{path}: {PYARROW_MISSING}.") from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises its own error types for unreadable files
        raise InputError(f"{path}: not a readable Parquet file ({err}).") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
        for data in batch.to_pylist():
            number += 1
            yield Row(number, data=data)


def read_csv_header(path: Path, reader: Any) -> List[str]:
    """Read and check a CSV file's header line.

    path (Path): The file, for error messages.
    reader (Any): A `csv.reader` at the start of the file.
    RETURNS (List[str]): The column names.
    """
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path}: the file is empty; expected a header line.") from None
    except csv.Error as err:
        raise InputError(f"{path}, line 1: unreadable CSV header ({err}).") from None
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(
            f"{path}, line 1: duplicate column names {duplicates}; rename them so each "
            "column has one name."
        )
    return header


def read_txt_rows(path: Path) -> Iterator[Row]:
    """Stream the .txt files of a folder (or one .txt file) in name order, one report each.

    path (Path): A folder of .txt files, or a single .txt file.
    YIELDS (Row): data {"id": file name, "text": contents}; line is the file's position.
    """
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    for number, file_path in enumerate(files, start=1):
        try:
            text = file_path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            yield Row(
                number,
                {"id": file_path.name},
                f"not valid UTF-8 ({err.reason} at byte {err.start})",
            )
            continue
        yield Row(number, data={"id": file_path.name, "text": text})


def is_utf8(text: str) -> bool:
    """Check that a string decoded with surrogateescape held valid UTF-8.

    text (str): The decoded string.
    RETURNS (bool): Whether it encodes back to UTF-8 without escaped bytes.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checksum(path: Path) -> str:
    """Hash a file's bytes, or a folder of .txt files (a shard), as SHA-256.

    path (Path): A file, or a folder of .txt files (hashed with their names, in order).
    RETURNS (str): The hex SHA-256.
    """
    digest = hashlib.sha256()
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    for file_ in files:
        if path.is_dir():
            digest.update(file_.name.encode("utf-8") + b"\0")
        with file_.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def partial_path(path: Path) -> Path:
    """Name the file an output is written to until it is complete.

    path (Path): The final output path.
    RETURNS (Path): The same folder and name plus ".partial"; stable, so a later run can
        find and resume it.
    """
    return path.with_name(path.name + PARTIAL_SUFFIX)


@dataclass
class PartialOutput:
    """The complete records at the start of a partial output file, for resuming it.

    count (int): Complete records kept (a multiple of the `every` given to `scan_partial`).
    size (int): Bytes they take, CSV header included; 0 when not even the header is whole.
    last (Optional[Dict[str, Any]]): The last kept record (CSV: column -> cell text), or
        None when no record is kept.
    """

    count: int
    size: int
    last: Optional[Dict[str, Any]] = None


def scan_partial(
    path: Path, columns: Optional[Sequence[str]] = None, every: int = 1
) -> PartialOutput:
    """Find the complete records of a partial JSONL or CSV output file.

    A record is complete when its line ending was written: a killed run can leave a last
    line (or a CSV record, whose quoted fields may span lines) cut anywhere, even inside a
    UTF-8 character; that record is not counted. Nothing is changed on disk.

    path (Path): The partial file; its format comes from the final output name in it
        (".csv.partial" is CSV, anything else JSONL).
    columns (Optional[Sequence[str]]): The CSV columns a resumed run writes; the file's
        header must be the same. Required for CSV.
    every (int): Keep a multiple of this many records (the batch size), so a resumed run
        labels the same batches as an uninterrupted one.
    RETURNS (PartialOutput): Where the kept records end.
    """
    is_csv = path.name.lower().endswith(".csv" + PARTIAL_SUFFIX)
    count = size = 0
    last: Optional[Dict[str, Any]] = None
    for number, end, record in _complete_records(path, is_csv, columns):
        if number % every == 0:  # number 0 is the CSV header
            count, size, last = number, end, record
    return PartialOutput(count, size, last)


def _complete_records(
    path: Path, is_csv: bool, columns: Optional[Sequence[str]]
) -> Iterator[Tuple[int, int, Optional[Dict[str, Any]]]]:
    """Stream a partial file's complete records with the byte offset where each ends.

    For CSV, the header comes first, checked, as record number 0 (record None).

    path (Path): The partial file.
    is_csv (bool): Whether it is CSV (else JSONL).
    columns (Optional[Sequence[str]]): The expected CSV header.
    YIELDS (Tuple[int, int, Optional[Dict[str, Any]]]): Number, end offset and record.
    """
    with path.open("rb") as file_:
        if not is_csv:
            end = 0
            for number, raw in enumerate(file_, start=1):
                if not raw.endswith(b"\n"):
                    return
                end += len(raw)
                try:
                    record = json.loads(raw.decode("utf-8"))
                except ValueError as err:
                    raise InputError(
                        f"{path}, line {number}: not a JSON record ({err}); the partial "
                        "file was changed by something else. Run again without --resume."
                    ) from None
                yield number, end, record
            return
        consumed = [0, False]  # bytes read so far; whether they end with a line ending

        def lines() -> Iterator[str]:
            for raw in file_:
                consumed[0] += len(raw)
                consumed[1] = raw.endswith(b"\n")
                yield raw.decode("utf-8", errors="replace")

        reader = csv.reader(lines(), strict=True)
        header: Optional[List[str]] = None
        number = 0
        while True:
            try:
                fields = next(reader)
            except (StopIteration, csv.Error):  # csv.Error: the file ends inside a field
                return
            if not consumed[1]:
                return
            if header is None:
                header = fields
                check_header(path, header, columns or [])
                yield 0, consumed[0], None
            elif len(fields) == len(header):
                number += 1
                yield number, consumed[0], dict(zip(header, fields))
            else:
                raise InputError(
                    f"{path}, record {number + 1}: {len(fields)} fields, not "
                    f"{len(header)}; the partial file was changed by something else. Run "
                    "again without --resume."
                )


def check_header(path: Path, header: Sequence[str], columns: Sequence[str]) -> None:
    """Check that a partial CSV file has the columns a resumed run would write.

    path (Path): The partial file, for the message.
    header (Sequence[str]): Its header.
    columns (Sequence[str]): The resumed run's columns.
    """
    if list(header) == list(columns):
        return
    missing = [column for column in columns if column not in header]
    extra = [column for column in header if column not in columns]
    raise InputError(
        f"{path}: its columns differ from this run's (in this run only: {missing}; in the "
        f"partial file only: {extra}); the options changed since it was written. Resume "
        "with the options of the first run, or run again without --resume."
    )


class RecordWriter:
    """Write flat or nested records as JSONL or CSV to a partial file, renamed on `commit`.

    path (Path): The final output path; .csv writes CSV, anything else JSONL.
    columns (Optional[Sequence[str]]): CSV column names, in order; required for CSV.
    resume (Optional[PartialOutput]): Continue the existing partial file after its kept
        records (the rest is cut off); None replaces any partial file.
    """

    def __init__(
        self,
        path: Path,
        columns: Optional[Sequence[str]] = None,
        resume: Optional[PartialOutput] = None,
    ) -> None:
        self.path = path
        self.partial = partial_path(path)
        self.is_csv = path.suffix.lower() == ".csv"
        if self.is_csv and not columns:
            raise ValueError("A CSV RecordWriter needs its column names.")
        self.columns = list(columns or [])
        self.count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume is not None:
            os.truncate(self.partial, resume.size)
            self.count = resume.count
            self._file: IO[str] = self.partial.open("a", encoding="utf-8", newline="")
        else:
            self._file = self.partial.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file) if self.is_csv else None
        if self._csv is not None and (resume is None or resume.size == 0):
            self._csv.writerow(self.columns)

    def write(self, record: Dict[str, Any]) -> None:
        """Append one record.

        record (Dict[str, Any]): For CSV, a flat dict keyed by column (missing keys are
            blank, None is blank); for JSONL, any JSON-serialisable dict.
        """
        if self._csv is not None:
            self._csv.writerow([csv_cell(record.get(column)) for column in self.columns])
        else:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def flush(self) -> None:
        """Hand the records written so far to the operating system, so they survive the
        process being killed (not a power cut: only `commit` syncs to disk)."""
        self._file.flush()

    def commit(self) -> None:
        """Flush to disk and move the partial file to the output path."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)

    def close(self) -> None:
        """Flush and close, keeping the partial file (e.g. for a later resume)."""
        self._file.close()

    def discard(self) -> None:
        """Close and delete the partial file, leaving no output."""
        self._file.close()
        self.partial.unlink(missing_ok=True)


class ParquetRecordWriter:
    """Write flat records to a Parquet file under a partial name, renamed on `commit`.

    The same calls as a `RecordWriter` (without resuming): records are buffered and
    written as one row group per PARQUET_BATCH records.

    path (Path): The final output path.
    schema (Any): The `pyarrow.Schema` of the records: one field per column, in order.
    """

    def __init__(self, path: Path, schema: Any) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(f"{path}: {PYARROW_MISSING}.") from None
        self.path = path
        self.partial = partial_path(path)
        self.schema = schema
        self.count = 0
        self._rows: List[Dict[str, Any]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.partial, schema)

    def write(self, record: Dict[str, Any]) -> None:
        """Append one record.

        record (Dict[str, Any]): A flat dict keyed by column; missing keys are null.
        """
        self._rows.append(record)
        self.count += 1
        if len(self._rows) >= PARQUET_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records as a row group."""
        if self._rows:
            import pyarrow

            self._writer.write_table(pyarrow.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def commit(self) -> None:
        """Write what is left, close the file, sync it to disk and move it to the output path."""
        self.flush()
        self._writer.close()
        with self.partial.open("rb") as file_:
            os.fsync(file_.fileno())
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        """Close and delete the partial file, leaving no output."""
        self._writer.close()
        self.partial.unlink(missing_ok=True)


def csv_cell(value: Any) -> str:
    """Format one value for a CSV cell: None blank, booleans true/false, floats short.

    value (Any): The value.
    RETURNS (str): The cell text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
