#!/usr/bin/env bash
# On a machine with one GPU, from a fresh clone: set up .venv (scripts/setup.sh), add CUDA
# builds of torch and cupy, then run benchmarks/gpu_check.py, which trains configs/trf.cfg
# for a few hundred steps, scores it and prints reports/s for trf and cpu (< 8 minutes).
# Usage: bash scripts/gpu_check.sh [benchmarks/gpu_check.py options, e.g. --steps 500]
# TORCH_INDEX picks the PyTorch wheel index for the machine's CUDA (default: CUDA 12.6).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
python=.venv/bin/python
case " $* " in *" --gpu-id -1 "*) on_cpu=1 ;; *) on_cpu=0 ;; esac
if [ "$on_cpu" = 0 ] && ! "$python" -c "import cupy, torch; assert torch.cuda.is_available()" 2>/dev/null; then
  # setup.sh's torch may be a CPU build; the GPU pipelines need CUDA torch and cupy.
  "$python" -m pip uninstall -q -y torch
  "$python" -m pip install -q "torch==2.13.0" --index-url "${TORCH_INDEX:-https://download.pytorch.org/whl/cu126}"
  "$python" -m pip install -q "cupy-cuda12x>=13"
fi
exec "$python" benchmarks/gpu_check.py "$@"
