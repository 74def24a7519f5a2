# MRDeepRecon developer commands. Everything runs in a local virtual environment (.venv).
# torch is installed first from the pinned CPU wheel so that pip never pulls the CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo-output
# Optional extras installed into the venv; CI adds bm4d (the evaluation's BM4D baseline, non-commercial licence).
EXTRAS ?= test,demo,evaluation,raw

.PHONY: venv test test-slow fuzz demo train benchmark quality clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

test: venv
	$(PY) -m pytest

test-slow: venv
	$(PY) -m pytest -m slow

# The whole bad-input campaign (over 1 000 cases, a few minutes); writes docs/FUZZ.md.
fuzz: venv
	cd Testing && $(abspath $(PY)) -m fuzz

demo: venv
	$(VENV)/bin/mrdeeprecon demo --out $(DEMO_OUT)

# Retrain the bundled models from scratch with the shipped recipe (about 4 h on 2 CPU cores; rerun to
# resume): the ablation's best arm (a scalar noise-level input), 12 000 steps, then 20 000 steps
# fine-tuned with training noise down to 0.1 % of p99 (high-SNR series), then the 3D model from it.
# MRDeepRecon/Resources/models/*.json record exactly how the shipped models ran it (lineage).
TRAIN_BASE ?= benchmarks/training/ce_unet_2d_base
train: venv
	$(VENV)/bin/mrdeeprecon train --kind 2d --steps 12000 --noise-input scalar --curve-every 2000 --checkpoint-every 250 --resume --out $(TRAIN_BASE)
	$(VENV)/bin/mrdeeprecon train --kind 2d --steps 20000 --learning-rate 5e-4 --noise-input scalar --min-noise 0.001 --curve-every 2000 --checkpoint-every 250 --resume --init-from $(TRAIN_BASE)/ce_unet_2d.safetensors --out MRDeepRecon/Resources/models
	$(VENV)/bin/mrdeeprecon train --kind 3d --steps 1500 --learning-rate 5e-4 --noise-input scalar --min-noise 0.001 --checkpoint-every 250 --resume --init-from MRDeepRecon/Resources/models/ce_unet_2d.safetensors --out MRDeepRecon/Resources/models

# Speed (benchmarks/RESULTS.md) and quality on held-out data (benchmarks/QUALITY.md, model cards).
benchmark: venv
	$(PY) benchmarks/run.py

quality: venv
	$(PY) benchmarks/quality.py --update-model-cards

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
