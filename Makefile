# MRDeepRecon developer commands. Everything runs in a local virtual environment (.venv).
# torch is installed first from the pinned CPU wheel so that pip never pulls the CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= demo-output

.PHONY: venv test test-slow demo train clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,demo]"
	touch $@

test: venv
	$(PY) -m pytest

test-slow: venv
	$(PY) -m pytest -m slow

demo: venv
	$(VENV)/bin/mrdeeprecon demo --out $(DEMO_OUT)

# Retrain the bundled models (see MRDeepRecon/Resources/models/*.json for what the shipped ones saw).
train: venv
	$(VENV)/bin/mrdeeprecon train --kind 2d --steps 4000 --out MRDeepRecon/Resources/models
	$(VENV)/bin/mrdeeprecon train --kind 3d --steps 2000 --init-from MRDeepRecon/Resources/models/ce_unet_2d.safetensors --out MRDeepRecon/Resources/models

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
