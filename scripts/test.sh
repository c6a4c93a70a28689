#!/usr/bin/env bash
# Set up .venv, then lint and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check spacy_radlabels tests benchmarks
.venv/bin/python -m pytest -q "$@"
