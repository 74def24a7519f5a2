#!/usr/bin/env bash
# The speed issue's GPU measurements in one device call (under 10 minutes): the network alone, the
# pipeline-on-device stages (2D and 3D model, 192 x 256 x 256, warm) and the read -> enhance -> write
# pipeline with its memory case, on CUDA; RESULTS_gpu.md and results_gpu.json come back in $OUT.
# Needs numpy, torch and safetensors only: the input travels as .npy (no SimpleITK on the GPU machine).
#
#   here:    .venv/bin/python benchmarks/export_source.py gpu_carry/source.npy          # about 34 MB
#            OUT=/tmp/try PYTHON=.venv/bin/python bash benchmarks/pipeline_on_gpu.sh --device cpu --quick  # CPU try
#   device:  run(command="bash benchmarks/pipeline_on_gpu.sh", carry=["gpu_carry"], timeout_s=600)
#   back:    copy $OUT/RESULTS_gpu.md and $OUT/results_gpu.json into benchmarks/ and commit them.
#
# Extra arguments go to run.py (e.g. --repeats 2, or --baseline-engine gpu_carry/old for a before/after
# comparison with an older engine carried beside the source).
set -euo pipefail
out=${OUT:?set OUT to the folder whose files come back}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
PYTHONUNBUFFERED=1 timeout 560 "${PYTHON:-python3}" benchmarks/run.py --device cuda --only network,pipeline-on-device,pipeline \
    --source gpu_carry/source.npy --out "$out/RESULTS_gpu.md" --json "$out/results_gpu.json" "$@" 2>&1 | tee "$out/pipeline_on_gpu.log"
