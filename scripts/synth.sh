#!/usr/bin/env bash
# Generate the synthetic corpus; mix in a user's annotated reports when REAL is non-empty.
# Usage: scripts/synth.sh SCHEMA OUTPUT_DIR N N_HELDOUT SEED REAL REAL_RATIO [SHORT_RATIO] [CARRIER_RATIO]
set -euo pipefail
schema=$1 out=$2 n=$3 n_heldout=$4 seed=$5 real=${6:-} real_ratio=${7:-0.3} short_ratio=${8:-} carrier_ratio=${9:-}
extra=()
if [ -n "$real" ]; then
  extra=(--real "$real" --real-ratio "$real_ratio")
fi
if [ -n "$short_ratio" ]; then
  extra+=(--short-ratio "$short_ratio")
fi
if [ -n "$carrier_ratio" ]; then
  extra+=(--carrier-ratio "$carrier_ratio")
fi
python -m spacy_radlabels synth "$schema" "$out" --n "$n" --n-heldout "$n_heldout" --seed "$seed" "${extra[@]}"
