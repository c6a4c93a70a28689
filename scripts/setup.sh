#!/usr/bin/env bash
# Create .venv and install the package with everything the tests and workflows need
# (`build` lets `spacy package` make wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
# dask: `label --dask` and its tests (tests/test_dask.py).
.venv/bin/python -m pip install -q -e ".[transformers,baselines,test,dask]" build
