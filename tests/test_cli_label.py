"""`radlabels label`: order, count, ids, empty and odd text, bad lines, formats."""

import csv
import json
import multiprocessing
from pathlib import Path
from typing import Dict, List

import pytest
import spacy
from threadpoolctl import threadpool_info
from typer.testing import CliRunner

from spacy_radlabels.batch import OutputOptions, _init_worker
from spacy_radlabels.cli import app

N_ROWS = 1000
BAD_LINE = 501
STATES = {"positive", "uncertain", "negative"}
SENTENCES = [
    "No haemorrhage.",
    "Possible infarct.",
    "There is an acute mass.",
    "Infarct cannot be excluded. No mass.",
]
runner = CliRunner()


def make_rows(n: int = N_ROWS) -> List[Dict]:
    """Build n report records with the awkward cases placed at known rows.

    n (int): Number of records.
    RETURNS (List[Dict]): Records {"id", "text"}; some lack text or id.
    """
    rows: List[Dict] = [
        {"id": f"r{i:04d}", "text": f"{SENTENCES[i % 4]} {SENTENCES[(i * 7) % 4]}"}
        for i in range(n)
    ]
    rows[10]["text"] = ""
    rows[11]["text"] = "   \n "
    del rows[12]["text"]
    rows[13]["text"] = None
    rows[20]["text"] = "Hémorragie — 出血? Possible infarct ✓ <b>&amp;</b> \u200b\x00 ﬁ"
    rows[30]["text"] = ("Possible infarct. " * 2800)[:50_000]
    del rows[40]["id"]
    return rows


def write_jsonl(rows: List[Dict], path: Path) -> Path:
    """Write records as JSONL.

    rows (List[Dict]): The records.
    path (Path): The file.
    RETURNS (Path): The file.
    """
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> List[Dict]:
    """Read a JSONL file.

    path (Path): The file.
    RETURNS (List[Dict]): Its records.
    """
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def expected_ids(rows: List[Dict]) -> List:
    """List the ids a JSONL output should carry: the id, or the record's line number.

    rows (List[Dict]): The input records, one a line.
    RETURNS (List): The ids.
    """
    return [row.get("id", i + 1) for i, row in enumerate(rows)]


def run(*args) -> object:
    """Invoke the CLI.

    args: Command line arguments.
    RETURNS (object): The click Result.
    """
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def rows() -> List[Dict]:
    return make_rows()


def test_jsonl_1000_rows_in_order(trained_pipeline, rows, tmp_path):
    source = write_jsonl(rows, tmp_path / "in.jsonl")
    output = tmp_path / "out.jsonl"
    result = run(
        "label", trained_pipeline, source, output, "--batch-size", 64, "--scores", "--evidence"
    )
    assert result.exit_code == 0, result.output
    records = read_jsonl(output)
    assert len(records) == N_ROWS
    assert [r["id"] for r in records] == expected_ids(rows)
    assert records[40]["id"] == 41
    empty = {i for i, r in enumerate(records) if r["empty_text"]}
    assert empty == {10, 11, 12, 13}
    labels = ["haemorrhage", "infarct", "mass"]
    for i in empty:
        assert records[i]["labels"] == {label: "negative" for label in labels}
    for record in records:
        assert list(record["labels"]) == labels
        assert set(record["labels"].values()) <= STATES
        for label, probs in record["scores"].items():
            assert abs(sum(probs.values()) - 1) < 1e-3
            assert (record["evidence"][label] is None) == (record["labels"][label] == "negative")
    for i in (20, 30):
        for text in record_evidence(records[i]):
            assert text in rows[i]["text"]
    assert not (tmp_path / "out.jsonl.partial").exists()


def record_evidence(record: Dict) -> List[str]:
    """List a record's evidence texts.

    record (Dict): An output record with "evidence".
    RETURNS (List[str]): Its non-null evidence strings.
    """
    return [text for text in record["evidence"].values() if text is not None]


def test_csv_in_chexpert_csv_out(trained_pipeline, rows, tmp_path):
    source = tmp_path / "in.csv"
    with source.open("w", encoding="utf-8", newline="") as file_:
        writer = csv.writer(file_)
        writer.writerow(["accession", "report", "site"])
        for row in rows:
            writer.writerow([row.get("id", ""), row.get("text") or "", "x"])
    output = tmp_path / "out.csv"
    result = run(
        "label",
        trained_pipeline,
        source,
        output,
        "--text-column",
        "report",
        "--id-column",
        "accession",
        "--format",
        "chexpert",
        "--scores",
        "--evidence",
        "--batch-size",
        64,
    )
    assert result.exit_code == 0, result.output
    with output.open(encoding="utf-8", newline="") as file_:
        out = list(csv.DictReader(file_))
    assert len(out) == N_ROWS
    # A record without an id gets the line it starts on: after the header and after
    # row 11's quoted line break.
    assert [r["id"] for r in out][:40] == [row["id"] for row in rows[:40]]
    assert out[40]["id"] == "43"
    assert [r["id"] for r in out][41:] == [row["id"] for row in rows[41:]]
    assert {r["empty_text"] for r in out} == {"true", "false"}
    assert [r["empty_text"] == "true" for r in out].count(True) == 4
    for record in out:
        assert {record[label] for label in ("haemorrhage", "infarct", "mass")} <= {"1", "0", "-1"}
        assert float(record["mass.negative"]) >= 0
    assert out[10]["haemorrhage"] == "0"


def test_txt_folder(trained_pipeline, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    names = ["b.txt", "a.txt", "c.txt"]
    for name, text in zip(names, ["No mass.", "", "Possible infarct. 出血"]):
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "notes.md").write_text("not a report", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = run("label", trained_pipeline, folder, output)
    assert result.exit_code == 0, result.output
    records = read_jsonl(output)
    assert [r["id"] for r in records] == ["a.txt", "b.txt", "c.txt"]
    assert [r["empty_text"] for r in records] == [True, False, False]
    # What labelled the output stays beside it.
    meta = json.loads(output.with_name("out.jsonl.meta.json").read_text(encoding="utf-8"))
    assert meta["pipeline"] == {"lang": "en", "name": "pipeline", "version": "0.0.0"}
    assert meta["records"] == 3 and meta["input"] == str(folder.resolve())


def test_n_process_2_keeps_order(trained_pipeline, rows, tmp_path):
    source = write_jsonl(rows[:200], tmp_path / "in.jsonl")
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert run("label", trained_pipeline, source, one, "--batch-size", 16).exit_code == 0
    result = run("label", trained_pipeline, source, two, "--batch-size", 16, "--n-process", 2)
    assert result.exit_code == 0, result.output
    assert read_jsonl(one) == read_jsonl(two)


def blas_threads() -> List[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_workers_share_the_cores_among_their_blas_threads():
    # numpy_matmul.v1 lets each process's BLAS take every core; N workers get 1/N each.
    nlp, options = spacy.blank("en"), OutputOptions(labels=[], states=[], fmt="states")
    context = multiprocessing.get_context()
    with context.Pool(1, _init_worker, (nlp, options, 8, 1)) as pool:
        assert set(pool.apply(blas_threads)) == {1}


def test_malformed_line_stops_and_leaves_no_output(trained_pipeline, rows, tmp_path):
    source = write_jsonl(rows, tmp_path / "in.jsonl")
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[BAD_LINE - 1] = '{"id": "broken", "text": "no mass"\n'
    source.write_text("".join(lines), encoding="utf-8")
    output = tmp_path / "out" / "labels.jsonl"
    result = run("label", trained_pipeline, source, output, "--batch-size", 64)
    assert result.exit_code == 1
    assert f"line {BAD_LINE}" in result.output and str(source) in result.output
    assert "--skip-bad" in result.output
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


def test_skip_bad_reports_skipped_lines(trained_pipeline, rows, tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [json.dumps(row) + "\n" for row in rows]
    lines[BAD_LINE - 1] = "not json at all\n"
    lines[BAD_LINE] = "[1, 2, 3]\n"
    lines[BAD_LINE + 1] = '{"id": "num", "text": 42}\n'
    lines[BAD_LINE + 2] = '{"id": "lone", "text": "a \\ud800 b"}\n'
    source.write_text("".join(lines), encoding="utf-8")
    output = tmp_path / "labels.jsonl"
    result = run("label", trained_pipeline, source, output, "--skip-bad", "--batch-size", 64)
    assert result.exit_code == 0, result.output
    records = read_jsonl(output)
    bad = range(BAD_LINE - 1, BAD_LINE + 3)
    kept = [record_id for i, record_id in enumerate(expected_ids(rows)) if i not in bad]
    assert [r["id"] for r in records] == kept
    skipped = read_jsonl(tmp_path / "labels.jsonl.skipped.jsonl")
    assert [s["line"] for s in skipped] == [BAD_LINE + i for i in range(4)]
    assert skipped[2]["id"] == "num" and skipped[3]["id"] == "lone"
    assert "invalid JSON" in skipped[0]["reason"]
    assert "JSON object" in skipped[1]["reason"]
    assert "string" in skipped[2]["reason"]
    assert "surrogate" in skipped[3]["reason"]


def test_csv_wrong_field_count_names_line(trained_pipeline, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,text\n1,"No mass."\n2,"Possible\ninfarct."\n3,a,b\n', encoding="utf-8")
    output = tmp_path / "out.csv"
    result = run("label", trained_pipeline, source, output)
    assert result.exit_code == 1
    assert "line 5" in result.output and "expected 2 fields" in result.output
    assert not output.exists()
    result = run("label", trained_pipeline, source, output, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in csv.DictReader(output.open(encoding="utf-8"))] == ["1", "2"]


def test_warns_when_every_text_is_missing(trained_pipeline, tmp_path):
    source = write_jsonl([{"id": 1, "report": "No mass."}], tmp_path / "in.jsonl")
    result = run("label", trained_pipeline, source, tmp_path / "out.jsonl")
    assert result.exit_code == 0
    assert "--text-key" in result.output
    assert read_jsonl(tmp_path / "out.jsonl")[0]["empty_text"] is True


def test_missing_text_column_is_an_error(trained_pipeline, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,report\n1,No mass.\n", encoding="utf-8")
    result = run("label", trained_pipeline, source, tmp_path / "out.csv")
    assert result.exit_code == 1
    assert "--text-column" in result.output


@pytest.mark.parametrize("command", [None, "label", "convert", "evaluate", "explain"])
def test_help_explains_options_with_examples(command):
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0
    if command:
        assert "Example" in result.output
        assert "--" in result.output
