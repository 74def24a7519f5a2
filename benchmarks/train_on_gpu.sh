#!/usr/bin/env bash
# One training session on a lent GPU machine, continuing the CPU run's checkpoint; the checkpoint,
# the model, its card and the log come back in $OUT.
#
#   here:    .venv/bin/python benchmarks/export_training_data.py --out gpu_carry     # 48 MiB
#            cp benchmarks/training/ce_unet_2d/ce_unet_2d.checkpoint.* gpu_carry/
#            OUT=/tmp/try PYTHON=.venv/bin/python bash benchmarks/train_on_gpu.sh 2d 16000 20 --device cpu  # CPU try
#   device:  run(command="bash benchmarks/train_on_gpu.sh 2d 16000 420", carry=["gpu_carry"], timeout_s=600)
#   back:    copy the returned files into benchmarks/training/ce_unet_2d/ (a file over 15 MiB comes
#            back in parts, FILE.part00, FILE.part01 ...: `cat FILE.part* > FILE`, then remove the
#            parts), commit them with the log, and resume there on the CPU (mrdeeprecon train ... --resume).
#
# A run whose checkpoint is committed (tracked files travel with the checkout, outside the 64 MiB
# carry) names its folder instead: CHECKPOINT_FROM=benchmarks/training/<run> bash ...
#
# Arguments: KIND (2d|3d) SCHEDULE_STEPS TRAINING_SECONDS [more `mrdeeprecon train` flags]. The
# session ends after TRAINING_SECONDS of training (then the noise-reduction calibration runs), so
# budget about 3 minutes for the machine's start and the calibration. The GPU machine has numpy,
# torch and safetensors but no SimpleITK or pydicom: the volumes travel as .npz.
set -euo pipefail
kind=$1 steps=$2 seconds=$3
shift 3
out=${OUT:?set OUT to the folder whose files come back}
from=${CHECKPOINT_FROM:-gpu_carry}
cp "$from"/ce_unet_"$kind".checkpoint.* "$out"/ 2>/dev/null || echo "no checkpoint in $from: training starts from scratch"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
PYTHONPATH=MRDeepRecon${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 "${PYTHON:-python3}" -m mrdeeprecon.cli train --kind "$kind" --out "$out" \
    --data gpu_carry/training_volumes.npz --curve-volume gpu_carry/heldout_seg3d.npz --curve-every 1000 \
    --steps "$steps" --time-budget-s "$seconds" --checkpoint-every 500 --log-every 100 --resume "$@" \
    2>&1 | tee -a "$out/train.log"
# Only files of at most 16 MiB come back from the device machine: split larger ones (a base-32
# checkpoint with its Adam state is about 31 MB).
find "$out" -maxdepth 1 -type f -size +15M | while read -r big; do
    split -b 15M -d "$big" "$big.part" && rm "$big"
done
