"""`label --dask`: a LocalCluster of 2 worker processes over 20 shards, exactly once."""

import csv
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import pyarrow
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from spacy_radlabels.batch import label_file
from spacy_radlabels.dask_label import find_shards, label_archive, parse_address
from spacy_radlabels.io import InputError
from spacy_radlabels.loading import find_radlabels

from .test_cli_label import make_rows, read_jsonl, run, write_jsonl

N_SHARDS = 20
ROWS_PER_SHARD = 30
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, shared by the tests."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """20 shards: 16 JSONL (the first with the awkward records of test_cli_label), 2 CSV,
    a folder of .txt files and a Parquet file."""
    rows = make_rows(N_SHARDS * ROWS_PER_SHARD)
    folder = tmp_path_factory.mktemp("shards")
    for number in range(N_SHARDS):
        part = rows[number * ROWS_PER_SHARD : (number + 1) * ROWS_PER_SHARD]
        name = f"part-{number:02d}"
        if number < 16:
            write_jsonl(part, folder / f"{name}.jsonl")
        elif number < 18:
            with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as file_:
                writer = csv.writer(file_)
                writer.writerow(["id", "text"])
                writer.writerows([row["id"], row["text"]] for row in part)
        elif number == 18:
            (folder / name).mkdir()
            for row in part:
                (folder / name / f"{row['id']}.txt").write_text(row["text"], encoding="utf-8")
        else:
            table = pyarrow.Table.from_pylist([{"id": r["id"], "text": r["text"]} for r in part])
            pq.write_table(table, folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def references(trained_nlp, shards, tmp_path_factory) -> Dict[str, List[Dict]]:
    """Each shard labelled by single-process `label_file`, with scores."""
    folder = tmp_path_factory.mktemp("references")
    pipe = find_radlabels(trained_nlp)
    out = {}
    for shard, name in find_shards(str(shards)):
        output = folder / f"{name}.jsonl"
        label_file(trained_nlp, pipe, shard, output, scores=True, progress=False)
        out[name] = read_jsonl(output)
    return out


def assert_equal_to_references(output_dir: Path, references: Dict[str, List[Dict]]) -> None:
    """Check every output shard against its reference, and that no temporary file is left."""
    assert sorted(path.stem for path in output_dir.glob("*.jsonl")) == sorted(references)
    for name, expected in references.items():
        assert read_jsonl(output_dir / f"{name}.jsonl") == expected, name
    assert [path.name for path in output_dir.iterdir() if path.name.startswith(".")] == []
    manifest = json.loads((output_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {name: entry["records"] for name, entry in manifest["shards"].items()} == {
        name: len(records) for name, records in references.items()
    }


def test_dask_output_equals_single_process_label(
    cluster, shards, references, trained_pipeline, tmp_path
):
    output = tmp_path / "labels"
    address = cluster.scheduler_address
    result = run("label", trained_pipeline, shards, output, "--dask", address, "--scores")
    assert result.exit_code == 0, result.output
    assert f"in {N_SHARDS} shards ({N_SHARDS} by this run)" in result.output
    assert_equal_to_references(output, references)
    assert sum(len(records) for records in references.values()) == N_SHARDS * ROWS_PER_SHARD
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == {"name": "pipeline", "version": "0.0.0"}
    assert manifest["settings"]["scores"] is True
    entry = manifest["shards"]["part-18"]
    assert entry["input"] == str(shards / "part-18") and len(entry["output_sha256"]) == 64


def test_csv_and_parquet_shards_hold_the_same_labels(
    cluster, shards, references, trained_pipeline, tmp_path
):
    labels = ["haemorrhage", "infarct", "mass"]
    for shard_format in ("csv", "parquet"):
        output = tmp_path / shard_format
        stats = label_archive(
            str(trained_pipeline),
            str(shards / "part-1*"),
            output,
            cluster.scheduler_address,
            shard_format=shard_format,
            progress=False,
        )
        assert stats.shards == stats.labelled == 10
        for name in [f"part-{n}" for n in range(10, 20)]:
            path = output / f"{name}.{shard_format}"
            if shard_format == "csv":
                with path.open(encoding="utf-8", newline="") as file_:
                    rows = list(csv.DictReader(file_))
            else:
                rows = pq.read_table(path).to_pylist()
            assert [row["id"] for row in rows] == [str(r["id"]) for r in references[name]]
            assert [{label: row[label] for label in labels} for row in rows] == [
                r["labels"] for r in references[name]
            ]


def test_corrupt_shard_names_file_and_line_unless_skipped(
    cluster, shards, references, trained_pipeline, tmp_path
):
    source = tmp_path / "shards"
    shutil.copytree(shards, source)
    bad = source / "part-07.jsonl"
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = '{"id": "broken", "text": "no mass"\n'
    bad.write_text("".join(lines), encoding="utf-8")
    output = tmp_path / "labels"
    address = cluster.scheduler_address
    result = run("label", trained_pipeline, source, output, "--dask", address)
    assert result.exit_code == 1
    assert f"{bad}, line 3: invalid JSON" in result.output and "--skip-bad" in result.output
    assert not (output / "part-07.jsonl").exists()
    assert "part-07" not in json.loads((output / "manifest.json").read_text())["shards"]
    result = run("label", trained_pipeline, source, output, "--dask", address, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "1 bad records skipped" in result.output
    assert [r["line"] for r in read_jsonl(output / "part-07.jsonl.skipped.jsonl")] == [3]
    records = read_jsonl(output / "part-07.jsonl")
    assert [r["id"] for r in records] == [
        r["id"] for r in references["part-07"] if r["id"] != "r0212"
    ]


@pytest.fixture(scope="module")
def long_shards(tmp_path_factory) -> Path:
    """20 JSONL shards of 50 reports of about 200 words: a run that lasts seconds, not one
    manifest interval, so a client can be killed in the middle of it."""
    folder = tmp_path_factory.mktemp("long_shards")
    text = " ".join(["No haemorrhage. Possible acute infarct in the left MCA territory."] * 20)
    for number in range(N_SHARDS):
        rows = [{"id": f"s{number:02d}-{i:02d}", "text": text} for i in range(50)]
        write_jsonl(rows, folder / f"part-{number:02d}.jsonl")
    return folder


def test_resume_after_killed_client_writes_only_missing_shards(
    cluster, long_shards, trained_pipeline, tmp_path
):
    output = tmp_path / "labels"
    shards = long_shards
    command = [
        sys.executable, "-m", "spacy_radlabels", "label", str(trained_pipeline), str(shards),
        str(output), "--dask", cluster.scheduler_address, "--scores", "--batch-size", "4",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    client = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, cwd=ROOT)
    manifest_path = output / "manifest.json"
    done: Dict[str, Dict] = {}
    deadline = time.monotonic() + 600
    while not done and time.monotonic() < deadline:
        if manifest_path.exists():
            done = json.loads(manifest_path.read_text(encoding="utf-8"))["shards"]
        time.sleep(0.01)
    client.send_signal(signal.SIGKILL)
    client.wait()
    # The client may write the manifest again before the signal lands: its last word counts.
    done = json.loads(manifest_path.read_text(encoding="utf-8"))["shards"]
    assert 0 < len(done) < N_SHARDS, "the client finished before it could be killed"
    kept = {name: (output / entry["output"]).stat() for name, entry in done.items()}
    result = run(
        "label", trained_pipeline, shards, output, "--dask", cluster.scheduler_address,
        "--scores", "--batch-size", "4", "--resume",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Kept {len(done)} shards" in result.output
    assert f"({N_SHARDS - len(done)} by this run)" in result.output
    for name, before in kept.items():
        after = (output / f"{name}.jsonl").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    for number in range(N_SHARDS):
        records = read_jsonl(output / f"part-{number:02d}.jsonl")
        assert [r["id"] for r in records] == [f"s{number:02d}-{i:02d}" for i in range(50)]
    assert [path.name for path in output.iterdir() if path.name.startswith(".")] == []


def test_resume_refuses_other_options(cluster, shards, trained_pipeline, tmp_path):
    output = tmp_path / "labels"
    address = cluster.scheduler_address
    assert (
        run(
            "label", trained_pipeline, shards / "part-00.jsonl", output, "--dask", address
        ).exit_code
        == 0
    )
    result = run(
        "label",
        trained_pipeline,
        shards / "part-00.jsonl",
        output,
        "--dask",
        address,
        "--scores",
        "--resume",
    )
    assert result.exit_code == 1
    assert "--scores (then False, now True)" in result.output


def test_worker_killed_mid_run_loses_and_doubles_nothing(
    cluster, shards, references, trained_pipeline, tmp_path
):
    output = tmp_path / "labels"
    failure: List[BaseException] = []

    def label() -> None:
        try:
            label_archive(
                str(trained_pipeline), str(shards), output, cluster.scheduler_address,
                scores=True, batch_size=4, progress=False,
            )  # fmt: skip
        except BaseException as err:  # noqa: B036  (reported by the test thread)
            failure.append(err)

    with Client(cluster) as client:
        pids = client.run(os.getpid)
        thread = threading.Thread(target=label)
        thread.start()
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy and any(output.glob("part-*.jsonl")):
                victim = busy[0]
            time.sleep(0.01)
        assert victim is not None and thread.is_alive(), "no task was running to be killed"
        os.kill(pids[victim], signal.SIGKILL)
        thread.join(timeout=300)
    assert not failure, failure
    assert_equal_to_references(output, references)


def test_addresses_and_missing_dask(monkeypatch):
    assert parse_address("local:3") == (None, 3)
    assert parse_address("tcp://10.0.0.1:8786") == ("tcp://10.0.0.1:8786", 0)
    with pytest.raises(ValueError, match="local:4"):
        parse_address("local:zero")
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.delitem(sys.modules, "spacy_radlabels.dask_label")
    with pytest.raises(ImportError, match=r"pip install spacy-radlabels\[dask\]"):
        import spacy_radlabels.dask_label  # noqa: F401


def test_find_shards_in_folders_globs_and_parquet_datasets(tmp_path):
    for name in ("b.jsonl", "a.csv", "notes.md", "_SUCCESS.jsonl"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text("", encoding="utf-8")
    (tmp_path / "in" / "c").mkdir()
    (tmp_path / "in" / "c" / "1.txt").write_text("No mass.", encoding="utf-8")
    assert [name for _, name in find_shards(str(tmp_path / "in"))] == ["a", "b", "c"]
    assert [name for _, name in find_shards(str(tmp_path / "in" / "*.jsonl"))] == ["b"]
    dataset = tmp_path / "reports.parquet"
    for year in (2020, 2021):
        (dataset / f"year={year}").mkdir(parents=True)
        (dataset / f"year={year}" / "part-0.parquet").write_bytes(b"")
    (dataset / "_common_metadata").write_bytes(b"")
    assert [name for _, name in find_shards(str(dataset))] == [
        "year=2020/part-0",
        "year=2021/part-0",
    ]
    (tmp_path / "in" / "b.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="would both write the output shard 'b'"):
        find_shards(str(tmp_path / "in"))
    with pytest.raises(InputError, match="no shards found"):
        find_shards(str(tmp_path / "in" / "*.md"))
