"""Measure synthetic corpus generation speed: 20,000 head CT reports written to disk.

Run: python benchmarks/synth_speed.py [N]
"""

import sys
import tempfile
import time
from pathlib import Path

from spacy_radlabels.schema import load_schema
from spacy_radlabels.synth import load_templates, write_corpus

SCHEMA = Path(__file__).parent.parent / "assets" / "schemas" / "head_ct.yml"


def main(n: int = 20000) -> None:
    """Generate and write n reports (train + dev) and print reports per second.

    n (int): Number of reports.
    """
    start = time.perf_counter()
    schema = load_schema(SCHEMA)
    templates = load_templates(schema.templates, schema)
    loaded, cpu_start = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(schema, templates, tmp, n=n, seed=0, n_heldout=0)
    wall, cpu = time.perf_counter() - loaded, time.process_time() - cpu_start
    print(f"schema + templates loaded in {loaded - start:.2f} s")
    # CPU time is what one free core needs; wall time also counts other processes' load.
    print(
        f"{n} reports generated, tokenized and written: {wall:.1f} s wall "
        f"({n / wall:.0f} reports/s), {cpu:.1f} s CPU ({n / cpu:.0f} reports/s)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
