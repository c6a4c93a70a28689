"""Annotated report files (JSONL or CSV) read as text plus gold labels, with checked states.

JSONL: one object a line, {"id": ..., "text": ..., "labels": {label: state}}.
CSV: a text column, an optional id column and one column per label.
Label values are state words ("positive", ...) or CheXpert codes (1, 0, -1, blank); the
coding is detected from the whole file unless given. Every error names the file, the
line and the column or key, and says how to fix it.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Literal, Optional, Sequence, Tuple

from .chexpert import code_to_state, is_code, parse_code
from .io import InputError, Row, input_format, read_rows

Coding = Literal["auto", "states", "chexpert"]


@dataclass
class AnnotatedReport:
    """One annotated report.

    line (int): Line of the record in its file.
    id (Any): The record's id, or its line number when it has none.
    text (str): The report text.
    labels (Dict[str, str]): Gold state per annotated label.
    """

    line: int
    id: Any
    text: str
    labels: Dict[str, str]


def normalise_name(name: str) -> str:
    """Normalise a column name for matching to labels: "Pleural Effusion" -> "pleural_effusion".

    name (str): A column name or label.
    RETURNS (str): Lower case, with runs of spaces and hyphens as one underscore.
    """
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def read_annotated(
    path: Path,
    labels: Sequence[str],
    states: Sequence[str],
    *,
    text_key: str = "text",
    id_key: str = "id",
    coding: Coding = "auto",
    ignore_columns: Sequence[str] = (),
) -> Iterator[AnnotatedReport]:
    """Stream the annotated reports of a JSONL or CSV file, with checked gold.

    path (Path): The .jsonl or .csv file.
    labels (Sequence[str]): The known labels (schema or model).
    states (Sequence[str]): The known states.
    text_key (str): JSON key or CSV column of the report text.
    id_key (str): JSON key or CSV column of the record id (optional in the data).
    coding (str): "states", "chexpert" or "auto" (detected from the file's values).
    ignore_columns (Sequence[str]): CSV columns that are neither text, id nor labels.
    YIELDS (AnnotatedReport): The reports, in file order.
    """
    fmt = input_format(path)
    if fmt not in ("jsonl", "csv"):
        raise InputError(f"{path}: annotated data must be a .jsonl or .csv file.")
    if coding == "auto":
        coding = detect_coding(path, labels, states, text_key, id_key, ignore_columns)
    columns: Optional[Dict[str, str]] = None
    for row in read_rows(path):
        if row.error is not None:
            raise InputError(f"{path}, line {row.line}: {row.error}.")
        assert row.data is not None
        if fmt == "csv" and columns is None:
            columns = label_columns(path, list(row.data), labels, text_key, id_key, ignore_columns)
        text = row.data.get(text_key)
        if not isinstance(text, str):
            found = "no" if text is None else f"a {type(text).__name__}"
            raise InputError(
                f"{path}, line {row.line}: {found} '{text_key}' text; each record needs "
                f"its report as a string (choose the key with --text-key)."
            )
        cells = cells_of(path, row, labels, columns)
        gold = {}
        for label, (where, value) in cells.items():
            state = read_state(value, states, coding)
            if state is False:
                raise InputError(
                    f"{path}, line {row.line}, {where}: unknown state {value!r} for label "
                    f"'{label}'. Use one of {list(states)}"
                    + (
                        " or CheXpert codes 1, 0, -1, blank (--coding chexpert)."
                        if coding == "states"
                        else ", or 1, 0, -1, blank with --coding chexpert."
                    )
                )
            if state is not None:
                gold[label] = state
        record_id = row.data.get(id_key)
        yield AnnotatedReport(
            row.line, row.line if record_id in (None, "") else record_id, text, gold
        )


def read_state(value: Any, states: Sequence[str], coding: str) -> Any:
    """Read one label value in a coding.

    value (Any): The cell or JSON value.
    states (Sequence[str]): The known states.
    coding (str): "states" or "chexpert".
    RETURNS (Any): The state; None when the label is not annotated; False when the value
        is not valid in the coding.
    """
    if coding == "chexpert":
        try:
            return code_to_state(parse_code(value), states)
        except ValueError:
            return False
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    word = value.strip().lower() if isinstance(value, str) else value
    return word if word in states else False


def label_columns(
    path: Path,
    header: List[str],
    labels: Sequence[str],
    text_key: str,
    id_key: str,
    ignore_columns: Sequence[str],
) -> Dict[str, str]:
    """Match a CSV header's columns to labels; any other column is an error.

    path (Path): The file, for error messages.
    header (List[str]): The column names.
    labels (Sequence[str]): The known labels.
    text_key (str): The text column.
    id_key (str): The id column.
    ignore_columns (Sequence[str]): Columns to leave out.
    RETURNS (Dict[str, str]): column -> label.
    """
    if text_key not in header:
        raise InputError(
            f"{path}, line 1: no text column '{text_key}' (columns: {header}); choose it "
            "with --text-column."
        )
    by_name = {normalise_name(label): label for label in labels}
    columns = {}
    for column in header:
        if column in (text_key, id_key) or column in ignore_columns:
            continue
        label = by_name.get(normalise_name(column))
        if label is None:
            raise InputError(
                f"{path}, line 1, column '{column}': unknown label; the known labels "
                f"are {list(labels)}. Add it to the schema (and retrain a model), or pass "
                f"--ignore-column '{column}' if it is not a label."
            )
        columns[column] = label
    return columns


def cells_of(
    path: Path, row: Row, labels: Sequence[str], columns: Optional[Dict[str, str]]
) -> Dict[str, Tuple[str, Any]]:
    """Collect a record's label values with where each one is, checking the labels.

    path (Path): The file, for error messages.
    row (Row): A good record.
    labels (Sequence[str]): The known labels.
    columns (Optional[Dict[str, str]]): CSV column -> label; None for JSONL.
    RETURNS (Dict[str, Tuple[str, Any]]): label -> (place for messages, value).
    """
    assert row.data is not None
    if columns is not None:
        return {label: (f"column '{col}'", row.data[col]) for col, label in columns.items()}
    values = row.data.get("labels", {})
    if not isinstance(values, dict):
        raise InputError(
            f"{path}, line {row.line}, key 'labels': expected an object {{label: state}}, "
            f"found {type(values).__name__}."
        )
    known = set(labels)
    for name in values:
        if name not in known:
            raise InputError(
                f"{path}, line {row.line}, key 'labels.{name}': unknown label '{name}'; "
                f"the known labels are {list(labels)}. Add it to the schema (and retrain a "
                "model), or remove it."
            )
    return {name: (f"key 'labels.{name}'", value) for name, value in values.items()}


def detect_coding(
    path: Path,
    labels: Sequence[str],
    states: Sequence[str],
    text_key: str,
    id_key: str,
    ignore_columns: Sequence[str],
) -> str:
    """Tell from a file's label values whether it uses state words or CheXpert codes.

    path (Path): The .jsonl or .csv file.
    labels (Sequence[str]): The known labels.
    states (Sequence[str]): The known states.
    text_key (str): The text column (CSV).
    id_key (str): The id column (CSV).
    ignore_columns (Sequence[str]): CSV columns to leave out.
    RETURNS (str): "chexpert" if any value is a code, else "states"; a file mixing both
        is an error.
    """
    first: Dict[str, str] = {}
    columns: Optional[Dict[str, str]] = None
    for row in read_rows(path):
        if row.data is None:
            continue
        if path.suffix.lower() == ".csv" and columns is None:
            columns = label_columns(path, list(row.data), labels, text_key, id_key, ignore_columns)
        values = row.data.get("labels") if columns is None else None
        if columns is None and not isinstance(values, dict):
            continue
        cells = cells_of(path, row, labels, columns)
        for where, value in cells.values():
            if is_code(value):
                first.setdefault("chexpert", f"line {row.line}, {where} ({value!r})")
            elif isinstance(value, str) and value.strip().lower() in states:
                first.setdefault("states", f"line {row.line}, {where} ({value!r})")
        if len(first) == 2:
            raise InputError(
                f"{path}: mixes CheXpert codes ({first['chexpert']}) and state words "
                f"({first['states']}). Use one coding, or pass --coding to say which."
            )
    return "chexpert" if "chexpert" in first else "states"
