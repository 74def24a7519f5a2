"""Evaluation against the classical best: degrade a clean volume, run the enhancement and the
classical baselines, score them (:mod:`mrdeeprecon.metrics`), and measure the properties a reader
cares about (tunable denoising accuracy, sharpness recovery, spatially varying noise, a vendor's
deep-learning pair)."""
