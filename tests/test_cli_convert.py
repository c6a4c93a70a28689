"""`radlabels convert`: annotated JSONL/CSV to .spacy with gold, and its errors."""

import csv
import json
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_radlabels.cli import app

LABELS = ["haemorrhage", "infarct", "pleural_effusion"]
STATES = ["positive", "uncertain", "negative"]
SCHEMA = """name: tiny
states: [{states}]
labels:
  haemorrhage: {{group: impression, definition: Blood., variants: [haemorrhage]}}
  infarct: {{group: impression, definition: Dead tissue., variants: [infarct]}}
  pleural_effusion: {{group: finding, definition: Fluid., variants: [effusion]}}
"""
runner = CliRunner()


def write_schema(path: Path, states: List[str]) -> Path:
    """Write a three-label schema.

    path (Path): The file.
    states (List[str]): Its states.
    RETURNS (Path): The file.
    """
    path.write_text(SCHEMA.format(states=", ".join(states)), encoding="utf-8")
    return path


def read_docs(path: Path) -> List:
    """Read the docs of a .spacy file.

    path (Path): The file.
    RETURNS (List): The docs, with user data.
    """
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def convert(*args) -> object:
    """Invoke `convert`.

    args: Its arguments.
    RETURNS (object): The click Result.
    """
    return runner.invoke(app, ["convert", *(str(arg) for arg in args)])


@pytest.fixture
def schema(tmp_path) -> Path:
    return write_schema(tmp_path / "schema.yml", STATES)


def annotated_rows(n: int = 1000) -> List[Dict]:
    """Build n annotated records, with empty, non-ASCII and 50,000-character texts.

    n (int): Number of records.
    RETURNS (List[Dict]): {"id", "text", "labels"} records; labels cycle through states.
    """
    rows = []
    for i in range(n):
        labels = {label: STATES[(i + j) % 3] for j, label in enumerate(LABELS)}
        if i % 5 == 0:
            del labels["infarct"]
        rows.append({"id": f"r{i}", "text": f"Report {i}. No haemorrhage.", "labels": labels})
    rows[3]["text"] = ""
    rows[4]["text"] = "Hémorragie — 出血 <script>x</script>"
    rows[5]["text"] = "x" * 50_000
    return rows


def test_jsonl_1000_rows(schema, tmp_path):
    rows = annotated_rows()
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "out.spacy"
    result = convert(source, output, "--schema", schema)
    assert result.exit_code == 0, result.output
    docs = read_docs(output)
    assert [doc.text for doc in docs] == [row["text"] for row in rows]
    assert [doc._.labels for doc in docs] == [row["labels"] for row in rows]


def test_csv_chexpert_coding_detected(tmp_path):
    schema = write_schema(tmp_path / "schema.yml", [*STATES, "absent"])
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as file_:
        writer = csv.writer(file_)
        writer.writerow(["Report", "Haemorrhage", "infarct", "Pleural Effusion", "Path"])
        writer.writerow(["No bleed.\nPossible infarct.", "0.0", "-1.0", "", "p1"])
        writer.writerow(["Effusion.", "1", "", "1", "p2"])
    output = tmp_path / "out.spacy"
    result = convert(
        source, output, "--schema", schema, "--text-column", "Report", "--ignore-column", "Path"
    )
    assert result.exit_code == 0, result.output
    docs = read_docs(output)
    assert docs[0].text == "No bleed.\nPossible infarct."
    assert docs[0]._.labels == {
        "haemorrhage": "negative",
        "infarct": "uncertain",
        "pleural_effusion": "absent",
    }
    assert docs[1]._.labels == {
        "haemorrhage": "positive",
        "infarct": "absent",
        "pleural_effusion": "positive",
    }


def test_csv_chexpert_blank_is_negative_without_absent(schema, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "text,haemorrhage,infarct,pleural_effusion\nNo bleed.,,1,\n", encoding="utf-8"
    )
    result = convert(source, tmp_path / "out.spacy", "--schema", schema, "--coding", "chexpert")
    assert result.exit_code == 0, result.output
    assert read_docs(tmp_path / "out.spacy")[0]._.labels == {
        "haemorrhage": "negative",
        "infarct": "positive",
        "pleural_effusion": "negative",
    }


def test_csv_state_words_blank_is_not_annotated(schema, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "id,text,haemorrhage,infarct\n1,Possible bleed.,Uncertain,\n", encoding="utf-8"
    )
    result = convert(source, tmp_path / "out.spacy", "--schema", schema)
    assert result.exit_code == 0, result.output
    assert read_docs(tmp_path / "out.spacy")[0]._.labels == {"haemorrhage": "uncertain"}


@pytest.mark.parametrize(
    "name,content,expected",
    [
        (
            "in.jsonl",
            '{"text": "a", "labels": {"haemorrhage": "positive"}}\n'
            '{"text": "b", "labels": {"tumour": "positive"}}\n',
            ["line 2", "labels.tumour", "unknown label", "Add it to the schema"],
        ),
        (
            "in.jsonl",
            '{"text": "a", "labels": {"haemorrhage": "present"}}\n',
            ["line 1", "labels.haemorrhage", "unknown state 'present'", "Use one of"],
        ),
        (
            "in.csv",
            "text,haemorrhage,infarct\na,positive,negative\nb,positive,maybe\n",
            ["line 3", "column 'infarct'", "unknown state 'maybe'"],
        ),
        (
            "in.csv",
            "text,haemorrhage,Sex\na,positive,F\n",
            ["line 1", "column 'Sex'", "unknown label", "--ignore-column"],
        ),
        (
            "in.csv",
            "text,haemorrhage,infarct\na,positive,1\n",
            ["mixes CheXpert codes", "line 2", "--coding"],
        ),
        (
            "in.jsonl",
            '{"text": "a", "labels": {}}\n{"text": "b", "labels": {"infarct": "negative"}\n',
            ["line 2", "invalid JSON"],
        ),
        ("in.jsonl", '{"labels": {}}\n', ["line 1", "'text'", "--text-key"]),
    ],
)
def test_errors_name_line_and_column(schema, tmp_path, name, content, expected):
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    output = tmp_path / "out.spacy"
    result = convert(source, output, "--schema", schema)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    for part in expected:
        assert part in message
    assert not output.exists()
