"""`radlabels label` under faults: killed runs, --resume, mismatched options and models.

A killed run must leave no output file or a complete one, and `--resume` must finish it
with the bytes of an uninterrupted run (JSONL and CSV, with and without --skip-bad).
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from typer.testing import CliRunner

import spacy_radlabels.batch
from spacy_radlabels.batch import label_file
from spacy_radlabels.cli import app
from spacy_radlabels.loading import load_pipeline

BATCH = 32
# Records in the inputs of killed processes, and of runs stopped in this process.
N_BIG, N_SMALL = 1000, 200
STOP_AFTER = 100
# Bytes of partial output after which a process is stopped: more than one buffer's flush.
GROWN = 2 * 8192
SENTENCES = [
    "No haemorrhage.",
    "Possible infarct.",
    "There is an acute mass.",
    "Infarct cannot be excluded. No mass.",
    "Hémorragie — 出血? Possible infarct.",
]
# Ids that need quoting in CSV, and that span lines there.
AWKWARD_IDS = ["a,b", 'say "hi"', "two\nlines", "ünï ✓ 出血", "cr\r\nlf"]
runner = CliRunner()


def make_lines(n: int, bad: bool) -> List[str]:
    """Build JSONL input lines: awkward ids, empty texts and, if asked, bad records.

    n (int): Number of lines.
    bad (bool): Put a bad record (bad JSON, non-text report) every 97 lines.
    RETURNS (List[str]): The lines, with line endings.
    """
    lines = []
    for i in range(n):
        record_id = AWKWARD_IDS[i // 7 % len(AWKWARD_IDS)] + str(i) if i % 7 == 3 else f"r{i}"
        text = "" if i % 41 == 5 else f"{SENTENCES[i % 5]} {SENTENCES[i * 3 % 5]}"
        line = json.dumps({"id": record_id, "text": text}, ensure_ascii=i % 2 == 0)
        if bad and i % 97 == 50:
            line = '{"id": "broken", "text": ' if i % 2 else f'{{"id": "n{i}", "text": 42}}'
        lines.append(line + "\n")
    return lines


def run(*args) -> object:
    """Invoke the CLI in this process.

    args: Command line arguments.
    RETURNS (object): The click Result.
    """
    return runner.invoke(app, [str(arg) for arg in args])


def label_args(model: Path, source: Path, output: Path, skip_bad: bool) -> List[str]:
    """Build the `label` arguments every run of a test shares.

    model (Path): The pipeline.
    source (Path): The input.
    output (Path): The output.
    skip_bad (bool): Add --skip-bad.
    RETURNS (List[str]): The arguments after the program.
    """
    args = ["label", str(model), str(source), str(output), "--batch-size", str(BATCH)]
    return args + ["--scores", "--evidence"] + (["--skip-bad"] if skip_bad else [])


def read_records(path: Path) -> List[Dict]:
    """Read a JSONL or CSV output record by record.

    path (Path): The file.
    RETURNS (List[Dict]): Its records.
    """
    with path.open(encoding="utf-8", newline="") as file_:
        if path.suffix == ".csv":
            return list(csv.DictReader(file_))
        return [json.loads(line) for line in file_]


def assert_same_output(output: Path, reference: Path) -> None:
    """Check that an output (and its side file) equals a reference, record for record and
    byte for byte, and that no partial or settings file is left.

    output (Path): The output.
    reference (Path): The uninterrupted run's output.
    """
    assert read_records(output) == read_records(reference)
    assert output.read_bytes() == reference.read_bytes()
    side, reference_side = (
        path.with_name(path.name + ".skipped.jsonl") for path in (output, reference)
    )
    assert side.exists() == reference_side.exists()
    if side.exists():
        assert side.read_bytes() == reference_side.read_bytes()
    names = [path.name for path in output.parent.iterdir()]
    assert not [name for name in names if name.endswith((".partial", ".resume.json"))], names


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Dict[str, Path]:
    """Input files: a clean one and one with bad records, small and large."""
    folder = tmp_path_factory.mktemp("inputs")
    paths = {}
    for name, n in [("small", N_SMALL), ("big", N_BIG)]:
        for bad in (False, True):
            key = f"{name}_bad" if bad else name
            paths[key] = folder / f"{key}.jsonl"
            paths[key].write_text("".join(make_lines(n, bad)), encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def references(trained_pipeline, inputs, tmp_path_factory) -> Callable[[str, str], Path]:
    """Uninterrupted runs' outputs, made on first use: `references(input name, suffix)`."""
    folder = tmp_path_factory.mktemp("references")
    found = {}

    def reference(name: str, suffix: str) -> Path:
        key = f"{name}:{suffix}"
        if key not in found:
            output = folder / key.replace(":", "") / f"labels{suffix}"
            result = run(*label_args(trained_pipeline, inputs[name], output, "bad" in name))
            assert result.exit_code == 0, result.output
            found[key] = output
        return found[key]

    return reference


def kill_when_grown(processes: Dict[signal.Signals, subprocess.Popen], partials: Dict) -> None:
    """Send each process its signal as soon as its partial output has grown, so that it
    is stopped part way (all are watched at once: any may be the quickest).

    processes (Dict[signal.Signals, subprocess.Popen]): The signal for each `label` process.
    partials (Dict[signal.Signals, Path]): Each process's partial output.
    """
    deadline = time.monotonic() + 120
    waiting = dict(processes)
    while waiting:
        for sig, process in list(waiting.items()):
            assert process.poll() is None, ("finished before it was stopped", process.communicate())
            if partials[sig].exists() and partials[sig].stat().st_size >= GROWN:
                process.send_signal(sig)
                del waiting[sig]
        assert time.monotonic() < deadline, "the partial output did not grow"
        time.sleep(0.01)


def test_killed_runs_leave_no_output_and_resume_to_the_same_bytes(
    trained_pipeline, inputs, references, tmp_path
):
    # Two runs at once, to share the start-up time: JSONL over 2 processes stopped with
    # SIGTERM, and CSV with --skip-bad killed with SIGKILL.
    runs = {
        signal.SIGTERM: ("big", tmp_path / "term" / "labels.jsonl", ["--n-process", "2"]),
        signal.SIGKILL: ("big_bad", tmp_path / "kill" / "labels.csv", []),
    }
    processes = {}
    for sig, (name, output, extra) in runs.items():
        args = label_args(trained_pipeline, inputs[name], output, "bad" in name) + extra
        processes[sig] = subprocess.Popen(
            [sys.executable, "-m", "spacy_radlabels", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        partials = {
            sig: output.with_name(output.name + ".partial") for sig, (_, output, _) in runs.items()
        }
        kill_when_grown(processes, partials)
        stderr = {sig: process.communicate(timeout=60)[1] for sig, process in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    assert processes[signal.SIGKILL].returncode == -signal.SIGKILL
    # SIGTERM stops cleanly: no traceback, the partial file kept, how to resume printed.
    assert processes[signal.SIGTERM].returncode == 128 + signal.SIGTERM, stderr[signal.SIGTERM]
    assert "Traceback" not in stderr[signal.SIGTERM]
    assert "Stopped by SIGTERM" in stderr[signal.SIGTERM] and "--resume" in stderr[signal.SIGTERM]
    assert "--n-process 2" in stderr[signal.SIGTERM]
    for name, output, _ in runs.values():
        partial = output.with_name(output.name + ".partial")
        assert not output.exists() and not output.with_name(output.name + ".skipped.jsonl").exists()
        assert 0 < partial.stat().st_size < references(name, output.suffix).stat().st_size
        result = run(*label_args(trained_pipeline, inputs[name], output, "bad" in name), "--resume")
        assert result.exit_code == 0, result.output
        assert "Resumed after" in result.output
        assert_same_output(output, references(name, output.suffix))


def stop_after(monkeypatch, n: int) -> None:
    """Make the next `label` run in this process send itself SIGTERM after n records.

    monkeypatch: The pytest fixture.
    n (int): Records labelled before the signal.
    """
    real = spacy_radlabels.batch.label_records

    def stopping(*args, **kwargs):
        for i, out in enumerate(real(*args, **kwargs)):
            if i == n:
                os.kill(os.getpid(), signal.SIGTERM)
            yield out

    monkeypatch.setattr(spacy_radlabels.batch, "label_records", stopping)


def stopped_run(monkeypatch, model: Path, source: Path, output: Path, *args) -> object:
    """Run `label` in this process and stop it with SIGTERM after STOP_AFTER records.

    monkeypatch: The pytest fixture.
    model (Path): The pipeline.
    source (Path): The input.
    output (Path): The output.
    args: More options.
    RETURNS (object): The click Result.
    """
    with monkeypatch.context() as patch:
        stop_after(patch, STOP_AFTER)
        result = run(*label_args(model, source, output, "--skip-bad" in args), *args)
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert not output.exists()
    return result


def cut_points(data: bytes, is_csv: bool) -> Dict[str, int]:
    """Choose where a SIGKILL could have cut a partial output.

    data (bytes): The partial output.
    is_csv (bool): Whether it is CSV.
    RETURNS (Dict[str, int]): Name -> byte offset.
    """
    ending = b"\r\n" if is_csv else b"\n"
    ends = [i + len(ending) for i in range(len(data)) if data.startswith(ending, i)]
    multibyte = next(i for i in range(len(data) // 2, len(data)) if data[i] >= 0xC0)
    points = {
        "nothing": 0,
        "batch end": ends[2 * BATCH - 1 + is_csv],
        "record end": ends[2 * BATCH + 5 + is_csv],
        "mid record": ends[2 * BATCH + 5 + is_csv] + 17,
        "inside a UTF-8 character": multibyte + 1,
        "everything": len(data),
    }
    if is_csv:
        points["inside the header"] = 9
        # A line break inside a quoted id ("two\nlines"): the record goes on after it.
        points["inside a quoted field"] = data.index(b"two\n", len(data) // 3) + 4
    return points


@pytest.fixture(scope="module")
def loaded(trained_pipeline) -> Tuple[Any, Any]:
    """The trained pipeline loaded once, with its `radlabels` component."""
    return load_pipeline(trained_pipeline)


@pytest.mark.parametrize(
    "suffix,skip_bad,cuts",
    [
        (".jsonl", False, None),
        (".csv", True, None),
        (".csv", False, ["mid record", "inside a quoted field"]),
        (".jsonl", True, ["mid record"]),
    ],
)
def test_resume_after_a_cut_anywhere(
    trained_pipeline, loaded, inputs, references, tmp_path, monkeypatch, suffix, skip_bad, cuts
):
    name = "small_bad" if skip_bad else "small"
    output = tmp_path / f"labels{suffix}"
    partial = output.with_name(output.name + ".partial")
    extra = ["--skip-bad"] if skip_bad else []
    stopped = stopped_run(monkeypatch, trained_pipeline, inputs[name], output, *extra)
    assert "--resume" in stopped.output
    data = partial.read_bytes()
    settings = output.with_name(output.name + ".resume.json").read_bytes()
    points = cut_points(data, suffix == ".csv")
    for where in cuts or points:
        # As a SIGKILL could leave it; resumed without the CLI, to load the pipeline once.
        partial.write_bytes(data[: points[where]])
        output.with_name(output.name + ".resume.json").write_bytes(settings)
        stats = label_file(
            *loaded,
            inputs[name],
            output,
            scores=True,
            evidence=True,
            skip_bad=skip_bad,
            batch_size=BATCH,
            resume=True,
            progress=False,
        )
        assert stats.resumed % BATCH == 0 and stats.resumed <= STOP_AFTER, where
        assert_same_output(output, references(name, suffix))
        output.unlink()


def test_resume_refuses_other_options_and_inputs(trained_pipeline, inputs, tmp_path, monkeypatch):
    output = tmp_path / "labels.csv"
    partial = output.with_name("labels.csv.partial")
    stopped_run(monkeypatch, trained_pipeline, inputs["small"], output)
    kept = partial.read_bytes()
    base = ["label", trained_pipeline, inputs["small"], output, "--batch-size", BATCH, "--resume"]
    # Other columns, another batch size: named, and the partial file is left as it was.
    result = run(*base, "--evidence")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "labels.csv.partial" in message and "--scores (then True, now False)" in message
    assert "without --resume" in message
    result = run(*base[:4], "--batch-size", 64, "--scores", "--evidence", "--resume")
    assert result.exit_code == 1 and "--batch-size (then 32, now 64)" in result.output
    assert partial.read_bytes() == kept
    # Another input whose records differ from those already labelled.
    changed = tmp_path / "changed.jsonl"
    changed.write_text("".join(make_lines(N_SMALL, False)[1:]), encoding="utf-8")
    settings = json.loads(output.with_name("labels.csv.resume.json").read_text(encoding="utf-8"))
    settings["input"] = str(changed.resolve())
    output.with_name("labels.csv.resume.json").write_text(json.dumps(settings), encoding="utf-8")
    result = run(*label_args(trained_pipeline, changed, output, False), "--resume")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "the input changed" in message and "'r96'" in message and str(changed) in message
    # No settings file: the options the partial file was written with are unknown.
    output.with_name("labels.csv.resume.json").unlink()
    result = run(*label_args(trained_pipeline, inputs["small"], output, False), "--resume")
    assert result.exit_code == 1 and "labels.csv.resume.json" in result.output
    assert "is missing" in result.output


def test_without_resume_a_partial_file_is_replaced(trained_pipeline, inputs, references, tmp_path):
    output = tmp_path / "labels.jsonl"
    output.with_name("labels.jsonl.partial").write_text('{"id": "stale"}\n', encoding="utf-8")
    result = run(*label_args(trained_pipeline, inputs["small"], output, False))
    assert result.exit_code == 0, result.output
    assert_same_output(output, references("small", ".jsonl"))
    # --resume with nothing to resume starts from the beginning.
    output.unlink()
    result = run(*label_args(trained_pipeline, inputs["small"], output, False), "--resume")
    assert result.exit_code == 0, result.output
    assert "Nothing to resume" in result.output
    assert_same_output(output, references("small", ".jsonl"))


def write_schema(path: Path, labels: List[str]) -> Path:
    """Write a schema file with these labels.

    path (Path): The file.
    labels (List[str]): Label names.
    RETURNS (Path): The file.
    """
    lines = ["name: test", "labels:"]
    for label in labels:
        lines += [f"  {label}:", "    group: finding", "    definition: A finding."]
        lines += [f"    variants: [{label}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["label", "evaluate"])
def test_schema_with_other_labels_is_named(trained_pipeline, tiny_jsonl, tmp_path, command):
    schema = write_schema(tmp_path / "other.yml", ["haemorrhage", "infarct", "tumour"])
    same = write_schema(tmp_path / "same.yml", ["mass", "infarct", "haemorrhage"])
    if command == "label":
        args = ["label", trained_pipeline, tiny_jsonl, tmp_path / "out.jsonl"]
    else:
        args = ["evaluate", trained_pipeline, tiny_jsonl, "--output", tmp_path / "metrics"]
    result = run(*args, "--schema", schema)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert str(trained_pipeline) in message and str(schema) in message
    assert "in the schema but not the pipeline: ['tumour']" in message
    assert "in the pipeline but not the schema: ['mass']" in message
    assert "--paths.schema" in message
    assert not (tmp_path / "out.jsonl").exists()
    assert run(*args, "--schema", same).exit_code == 0


def test_missing_or_wrong_model_directory(tmp_path, tiny_jsonl):
    output = tmp_path / "out.jsonl"
    result = run("label", tmp_path / "no-such-model", tiny_jsonl, output)
    assert result.exit_code == 1
    assert "no-such-model" in result.output and "model-best" in result.output
    training = tmp_path / "training"
    (training / "model-best").mkdir(parents=True)
    (training / "model-best" / "config.cfg").touch()
    result = run("label", training / "model-bset", tiny_jsonl, output)
    message = " ".join(result.output.split())
    assert result.exit_code == 1 and f"next to it: ['{training / 'model-best'}']" in message
    result = run("label", training, tiny_jsonl, output)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "has no config.cfg" in message and str(training / "model-best") in message
    result = run("evaluate", tiny_jsonl, tiny_jsonl, "--output", tmp_path / "m")
    assert result.exit_code == 1 and "is a file" in result.output
    assert not output.exists()
