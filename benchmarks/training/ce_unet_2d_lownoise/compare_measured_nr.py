"""Measured (QA) noise reduction on five real series: the shipped 2D model vs a candidate.

    python benchmarks/training/ce_unet_2d_lownoise/compare_measured_nr.py CANDIDATE.safetensors

The series and slices are those of benchmarks/negative_values.py; one torch thread."""
import sys, time
REPO = __import__("pathlib").Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "MRDeepRecon")); sys.path.insert(0, str(REPO / "benchmarks"))
import torch
torch.set_num_threads(1)
from pathlib import Path
from negative_values import SERIES
from mrdeeprecon.io.dicom import read_dicom
from mrdeeprecon.inference import enhance
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.job import measured_noise_reduction
models = {"shipped": REPO / "MRDeepRecon/Resources/models/ce_unet_2d.safetensors", "lownoise": Path(sys.argv[1])}
for name, (rel, sel, slices) in SERIES.items():
    v = read_dicom(REPO.parent / "shared/data/dicom" / rel, **sel)
    if slices:
        v = v.with_data(v.data[slices[0]:slices[1]].copy())
    row = []
    for label, path in models.items():
        for nr in (2, 4):
            r = enhance(v, EnhanceSettings(nr, device="cpu", model_kind="2d", model_path=path))
            m = measured_noise_reduction(v, r)
            row.append(f"{label} NR{nr}: measured {m if m is None else round(m, 2)} achieved {r.metadata['enhancement']['noise_reduction_achieved']:.2f}")
    print(name, "|", " | ".join(row), flush=True)
