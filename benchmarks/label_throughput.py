"""Measure reports/second and peak memory of `python -m spacy_radlabels label`.

Runs the subcommand as a fresh process for each --n-process setting on N synthetic
reports (rendered by the synth generator from a schema, or read from a given JSONL) and
prints wall-clock reports/second, the peak RSS of the largest process (getrusage of
children) and the peak summed RSS of the process tree (sampled from /proc). With --dask,
the reports are also split into --shards JSONL shards and labelled with `label --dask`
(for "local:N" the LocalCluster's start is part of the run), and a table puts every run
side by side.

    python benchmarks/label_throughput.py training/model-best --n 20000
    python benchmarks/label_throughput.py model-best --input reports.jsonl --n-process 1 2 4
    python benchmarks/label_throughput.py model-best --n 200000 --dask local:2
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMA = REPO / "assets" / "schemas" / "head_ct.yml"
STARTUP_REPORTS = 10


def write_synthetic(path: Path, n: int, schema_path: Path, seed: int) -> None:
    """Write n synthetic reports as JSONL {"id", "text"}.

    path (Path): The JSONL file.
    n (int): Number of reports.
    schema_path (Path): Schema whose templates render the reports.
    seed (int): Random seed.
    """
    from spacy_radlabels.schema import load_schema
    from spacy_radlabels.synth import ReportGenerator, load_templates

    schema = load_schema(schema_path)
    if schema.templates is None:
        raise SystemExit(f"{schema_path} names no templates; pass --input reports.jsonl.")
    generator = ReportGenerator(schema, load_templates(schema.templates, schema))
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as file_:
        for i in range(n):
            text, _ = generator.generate(rng)
            file_.write(json.dumps({"id": f"bench-{i}", "text": text}) + "\n")


def copy_head(source: Path, path: Path, n: int) -> int:
    """Copy the first n records of a JSONL file.

    source (Path): The JSONL file to read.
    path (Path): The JSONL file to write.
    n (int): Records to copy at most.
    RETURNS (int): Records copied.
    """
    count = 0
    with source.open(encoding="utf-8") as src, path.open("w", encoding="utf-8") as dst:
        for line in src:
            if count == n:
                break
            dst.write(line)
            count += 1
    return count


def tree_rss_kib(pid: int) -> int:
    """Sum the resident memory of a process and all its descendants.

    pid (int): The root process.
    RETURNS (int): Total VmRSS in KiB (0 for processes that are gone).
    """
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            # Every thread's children: Dask starts its worker processes from another thread.
            children = [
                child
                for task in Path(f"/proc/{current}/task").iterdir()
                for child in (task / "children").read_text().split()
            ]
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        stack.extend(int(child) for child in children)
    return total


def write_shards(source: Path, folder: Path, n_shards: int) -> None:
    """Split a JSONL file into shards of (nearly) equal size, in order.

    source (Path): The JSONL file.
    folder (Path): Where the shards (part-00000.jsonl, ...) go.
    n_shards (int): Number of shards.
    """
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(lines) // n_shards)
    for number in range(n_shards):
        part = lines[number * size : (number + 1) * size]
        (folder / f"part-{number:05d}.jsonl").write_text("".join(part), encoding="utf-8")


def run_label(model: str, source: Path, setting: List[str], batch_size: int, gpu_id: int) -> Dict:
    """Run `label` once in a fresh process and measure it.

    model (str): The pipeline.
    source (Path): The JSONL input, or with --dask a folder of shards.
    setting (List[str]): The options that set the processes, e.g. ["--n-process", "2"]
        or ["--dask", "local:2"].
    batch_size (int): Reports per batch.
    gpu_id (int): GPU id or -1.
    RETURNS (Dict): seconds, records written and peak memory figures.
    """
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / ("labels" if "--dask" in setting else "labels.jsonl")
        command = [
            sys.executable, "-m", "spacy_radlabels", "label", model, str(source), str(output),
            *setting, "--batch-size", str(batch_size), "--gpu-id", str(gpu_id),
        ]  # fmt: skip
        # Measure in a child wrapper so each run's getrusage(RUSAGE_CHILDREN) is its own.
        wrapper = (
            "import resource, subprocess, sys, json;"
            "rc = subprocess.call(sys.argv[1:], stderr=subprocess.DEVNULL);"
            "print(json.dumps({'rc': rc, 'maxrss': "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
        )
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", wrapper, *command], stdout=subprocess.PIPE, cwd=REPO, text=True
        )
        peak_tree = 0
        while proc.poll() is None:
            peak_tree = max(peak_tree, tree_rss_kib(proc.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        result = json.loads(proc.stdout.read())
        if result["rc"] != 0:
            raise SystemExit(f"label failed with exit code {result['rc']}: {' '.join(command)}")
        written = 0
        for path in sorted(output.glob("*.jsonl")) if output.is_dir() else [output]:
            with path.open(encoding="utf-8") as file_:
                written += sum(1 for _ in file_)
    return {
        "seconds": seconds,
        "written": written,
        "max_process_rss_mib": result["maxrss"] / 1024,
        "peak_tree_rss_mib": peak_tree / 1024,
    }


def main(argv: Optional[List[str]] = None) -> None:
    """Parse arguments, prepare the reports and print one line per --n-process setting.

    argv (Optional[List[str]]): Command line arguments (default: sys.argv).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Trained pipeline directory or package name.")
    parser.add_argument("--n", type=int, default=20_000, help="Reports to label.")
    parser.add_argument("--input", type=Path, help="JSONL reports to use instead of synth.")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="Synth schema.")
    parser.add_argument("--n-process", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--dask", help="Also run `label --dask ADDRESS`, e.g. local:2.")
    parser.add_argument("--shards", type=int, default=20, help="Input shards for --dask.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "reports.jsonl"
        if args.input is not None:
            n = copy_head(args.input, source, args.n)
        else:
            write_synthetic(source, args.n, args.schema, args.seed)
            n = args.n
        chars = sum(len(json.loads(line)["text"]) for line in source.open(encoding="utf-8"))
        print(f"{n} reports, {chars / n:.0f} characters on average, batch size "
              f"{args.batch_size}, gpu {args.gpu_id}")  # fmt: skip
        # Startup (imports, model loading, worker spawning) is timed on a few reports and
        # subtracted, so the net rate is the one a million-report run sees.
        few = Path(tmp) / "few.jsonl"
        copy_head(source, few, STARTUP_REPORTS)
        runs = [(["--n-process", str(n_process)], few, source) for n_process in args.n_process]
        if args.dask:
            write_shards(source, Path(tmp) / "shards", args.shards)
            write_shards(few, Path(tmp) / "few_shards", 1)
            runs.append((["--dask", args.dask], Path(tmp) / "few_shards", Path(tmp) / "shards"))
        rows = []
        for setting, few_input, full_input in runs:
            startup = run_label(args.model, few_input, setting, args.batch_size, args.gpu_id)
            m = run_label(args.model, full_input, setting, args.batch_size, args.gpu_id)
            assert m["written"] == n, f"{m['written']} records written for {n} reports"
            net = m["seconds"] - startup["seconds"]
            # On a busy machine the start-up run can take longer than the full one.
            rate = f"{n / net:,.0f}" if net > 0 else "n/a"
            name = " ".join(setting)
            print(
                f"{name}: {rate} reports/s net of startup "
                f"({n / m['seconds']:,.0f} end to end, {m['seconds']:.1f} s, startup "
                f"{startup['seconds']:.1f} s); peak RSS: largest process "
                f"{m['max_process_rss_mib']:,.0f} MiB, whole tree "
                f"{m['peak_tree_rss_mib']:,.0f} MiB"
            )
            rows.append(
                f"| `{name}` | {rate} | {n / m['seconds']:,.0f} | {m['seconds']:.1f} "
                f"| {startup['seconds']:.1f} | {m['peak_tree_rss_mib']:,.0f} |"
            )
        print("\n| run | reports/s, start-up excluded | reports/s, start-up included | "
              "seconds | start-up s | peak RSS of the tree MiB |")  # fmt: skip
        print("|---|--:|--:|--:|--:|--:|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
