"""Raw k-space reconstructions, classical and the unrolled network, against the fully sampled ``espirit_full`` (issue 12).

    python benchmarks/raw.py [--threads 2] [--out benchmarks/RAW.md] [--json benchmarks/results_raw.json] [--validation-only]

* Reference: ``espirit_full`` (230 × 180, 8 coils, fully sampled) coil-combined with its ESPIRiT
  maps (``Σ_c S_c* c_c``, magnitude).
* Retrospective masks at R = 2, 4, 6, 8: uniform (every R-th ky line) + 24 centre lines, and
  Poisson disc (``sigpy.mri.poisson``, 24 × 24 calibration, seed 0). Each reconstruction estimates
  its own ESPIRiT maps from its calibration region.
* Methods: zero-filled RSS, CG-SENSE, L1-wavelet (``mrdeeprecon.raw.baselines``) and the bundled
  unrolled SENSE network (``mrdeeprecon.raw.unrolled``, its scores written into its model card); PSNR / SSIM of
  the magnitude (``mrdeeprecon.metrics``, data range = the reference's maximum), seconds per slice
  (maps included) on ``--threads`` threads.
* Baseline settings, chosen per R on a validation slice that is not the test data — the middle
  slice of ``adi_t2tse_3t_block1`` resized to 230 × 180, 8 simulated coils (``kspace/coils.py``),
  complex noise at espirit_full's noise SD relative to its 99th percentile, the same masks (ESPIRiT
  maps estimated once per mask) — by PSNR, the best mean over the two mask kinds at each R:
  L1-wavelet λ_rel over :data:`L1_LAMBDA_GRID`, CG-SENSE λ × iterations over
  :data:`SENSE_LAMBDA_GRID` × :data:`SENSE_ITERATION_GRID`. The chosen tables (keyed by the mean
  effective R) replace the shipped ones (``baselines.L1_LAMBDA_BY_ACCELERATION``,
  ``baselines.SENSE_SETTINGS_BY_ACCELERATION``) for the run and are compared with them.
  ``--validation-only`` runs this search alone, prints the chosen tables and exits (nothing written).
* The real undersampled sets (``espirit_und2x2``, ``sigpy_cartesian_ksp``, ``bart_pics_brain_ksp``):
  no ground truth; images and the data-consistency report of each method.

Writes RAW.md, results_raw.json and PNG panels in benchmarks/raw/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from common import BENCHMARKS_DIR, REPO, set_thread_environment, set_torch_threads, use_repository_engine

KSPACE = REPO.parent / "shared" / "data" / "kspace"
VALIDATION_VOLUME = REPO.parent / "shared" / "data" / "volumes" / "adi_t2tse_3t_block1.nii.gz"
ACCELERATIONS = (2, 4, 6, 8)
ACS_LINES = 24
L1_LAMBDA_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
SENSE_LAMBDA_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
#: CG iterations from zero; fewest first, so that a tie (CG converged) goes to the fewest.
SENSE_ITERATION_GRID = (3, 4, 5, 6, 8, 10, 15, 20, 30, 50)
REAL_SETS = ("espirit_und2x2.cfl", "sigpy_cartesian_ksp.npy", "bart_pics_brain_ksp.cfl")
METHOD_NAMES = {"zerofill": "zero-filled RSS", "sense": "CG-SENSE", "l1wavelet": "L1-wavelet", "unrolled": "unrolled SENSE + CNN"}
#: The issue's goal: the unrolled network at least this many dB above L1-wavelet at R 4 and 6.
UNROLLED_GOAL_DB = 1.5


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RAW.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_raw.json")
    parser.add_argument("--validation-only", action="store_true", help="run the settings' validation search, print the chosen tables and exit")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class SettingSearch:
    """One baseline's validation search.

    Attributes:
        table: name of the ``baselines`` table (effective R → setting) the choice replaces.
        title: Markdown heading of its section.
        explanation: Markdown: what the setting is.
        column: Markdown column header of a setting.
        candidates: every setting tried (a value of ``table``) → the ``reconstruct_baseline``
            keywords that apply it.
    """

    table: str
    title: str
    explanation: str
    column: str
    candidates: dict[Any, dict[str, Any]]


SEARCHES = {
    "l1wavelet": SettingSearch(
        "L1_LAMBDA_BY_ACCELERATION", "L1-wavelet λ",
        "λ = λ_rel · (99th percentile of |Aᴴy|); grid of λ_rel " + ", ".join(f"{v:g}" for v in L1_LAMBDA_GRID) + ".",
        "λ_rel", {lam: {"l1_lambda_relative": lam} for lam in L1_LAMBDA_GRID},
    ),
    "sense": SettingSearch(
        "SENSE_SETTINGS_BY_ACCELERATION", "CG-SENSE λ and iterations",
        "Tikhonov weight λ of ½λ‖x‖² (dimensionless: AᴴA has scale 1) and the conjugate-gradient iterations from zero "
        "(stopping early regularises too); grid λ " + ", ".join(f"{v:g}" for v in SENSE_LAMBDA_GRID)
        + " × iterations " + ", ".join(str(n) for n in SENSE_ITERATION_GRID) + ".",
        "λ, iterations",
        {(lam, n): {"sense_lambda": lam, "sense_iterations": n} for n in SENSE_ITERATION_GRID for lam in SENSE_LAMBDA_GRID},
    ),
}
"""The validation searches by method (module docstring)."""


def _setting_text(setting) -> str:
    """A table value as Markdown: ``0.003``, or ``0.01, 20`` for a tuple."""
    return ", ".join(f"{v:g}" for v in (setting if isinstance(setting, tuple) else (setting,)))


def _masks(shape):
    """``{(kind, R): bool mask (ky, kx)}`` of the retrospective sampling patterns."""
    import numpy as np
    import sigpy.mri

    ny, nx = shape
    out = {}
    for r in ACCELERATIONS:
        uniform = np.zeros(shape, bool)
        uniform[ny // 2 % r :: r] = True
        uniform[ny // 2 - ACS_LINES // 2 : ny // 2 + ACS_LINES // 2] = True
        out[("uniform", r)] = uniform
        out[("poisson", r)] = sigpy.mri.poisson(shape, r, calib=(ACS_LINES, ACS_LINES), seed=0, dtype=np.complex64) != 0
    return out


def _undersampled(raw, mask):
    return replace(raw, data=(raw.data * mask).astype(raw.data.dtype), mask=mask[None])


def _validation_raw(shape, relative_noise):
    """The validation slice as a RawKSpace (module docstring), and its ground truth ``(y, x)``."""
    import numpy as np
    import SimpleITK as sitk
    from skimage.transform import resize

    from mrdeeprecon.kspace.coils import coil_sensitivities
    from mrdeeprecon.kspace.fft import fftc
    from mrdeeprecon.raw import RawHeader, RawKSpace

    volume = sitk.GetArrayFromImage(sitk.ReadImage(str(VALIDATION_VOLUME))).astype(np.float32)
    image = resize(volume[volume.shape[0] // 2], shape, anti_aliasing=True).astype(np.float32)
    image /= np.percentile(image, 99)
    sens = coil_sensitivities(shape, 8, frequency_axis=1, phase_axis=0).numpy()
    kspace = fftc(sens * image, (-2, -1))[:, None]
    rng = np.random.default_rng(0)
    sd = relative_noise * float(np.percentile(np.abs(np.sum(np.conj(sens) * (sens * image), axis=0)), 99))
    kspace = kspace + (rng.normal(size=kspace.shape) + 1j * rng.normal(size=kspace.shape)) * sd / np.sqrt(2)
    raw = RawKSpace(kspace.astype(np.complex64), np.ones((1, 1, 1), bool), RawHeader((shape[1], shape[0], 1), None, "2D"))
    return raw, image


def _choose_settings(masks, relative_noise) -> dict[str, dict[str, Any]]:
    """Every :data:`SEARCHES` on the validation slice.

    Returns:
        ``{method: {"chosen": {R: {"setting", "effective_r", "psnr_db"}}, "scores": [{"mask", "r",
        "setting", "psnr_db"}], "seconds": search time (ESPIRiT maps excluded)}}``.
    """
    import numpy as np

    from mrdeeprecon.metrics import psnr
    from mrdeeprecon.raw.baselines import acceleration, espirit_maps, reconstruct_baseline

    raw, truth = _validation_raw(next(iter(masks.values())).shape, relative_noise)
    found = {method: {"chosen": {}, "scores": [], "seconds": 0.0} for method in SEARCHES}
    for r in ACCELERATIONS:
        per_setting = {method: {setting: [] for setting in search.candidates} for method, search in SEARCHES.items()}
        effective = []
        for kind in ("uniform", "poisson"):
            under = _undersampled(raw, masks[(kind, r)])
            maps, _ = espirit_maps(under.data, under.mask)
            effective.append(acceleration(under.mask, under.data.shape[1:]))
            for method, search in SEARCHES.items():
                start = time.perf_counter()
                for setting, keywords in search.candidates.items():
                    image = reconstruct_baseline(under, method, maps=maps, **keywords).image
                    value = psnr(truth[None], np.abs(image))
                    per_setting[method][setting].append(value)
                    found[method]["scores"].append({"mask": kind, "r": r, "setting": setting, "psnr_db": value})
                found[method]["seconds"] += time.perf_counter() - start
        for method, scores in per_setting.items():
            best = max(scores, key=lambda setting: np.mean(scores[setting]))
            found[method]["chosen"][r] = {"setting": best, "effective_r": float(np.mean(effective)), "psnr_db": float(np.mean(scores[best]))}
            print(f"validation R={r} {method}: {SEARCHES[method].column} {_setting_text(best)} ({np.mean(scores[best]):.2f} dB)", flush=True)
    return found


def _use_chosen_tables(baselines, found) -> None:
    """Add ``"table"`` (the choice, keyed by the mean effective R rounded to 0.01) and
    ``"shipped_table"`` to each method's entry of ``found``, and put the choice in ``baselines``."""
    for method, search in SEARCHES.items():
        table = getattr(baselines, search.table)
        found[method]["shipped_table"] = {round(float(k), 2): v for k, v in table.items()}
        found[method]["table"] = {round(v["effective_r"], 2): v["setting"] for v in found[method]["chosen"].values()}
        table.clear()
        table.update(found[method]["table"])
        print(f"{search.table} = {found[method]['table']}  (shipped: {found[method]['shipped_table']})", flush=True)


def _panel(path, title, rows, reference):
    """PNG: one row per entry of ``rows`` (label, {method: magnitude}), images then |error| × 5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    methods = list(METHOD_NAMES)
    columns = len(methods) * (2 if reference is not None else 1)
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.2 * columns, 2.6 * len(rows)), squeeze=False)
    peak = None if reference is None else float(reference.max())
    for i, (label, images) in enumerate(rows):
        for j, method in enumerate(methods):
            image = images[method]
            top = peak if peak is not None else float(np.percentile(image, 99.5))
            axes[i, j].imshow(image, cmap="gray", vmin=0, vmax=top)
            axes[i, j].set_title(f"{label} {METHOD_NAMES[method]}", fontsize=7)
            if reference is not None:
                axes[i, j + len(methods)].imshow(5 * np.abs(image - reference), cmap="inferno", vmin=0, vmax=peak)
                axes[i, j + len(methods)].set_title(f"|error| x5 {METHOD_NAMES[method]}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    args = _arguments(argv)
    set_thread_environment(args.threads)
    use_repository_engine()
    set_torch_threads(args.threads)
    import numpy as np

    from mrdeeprecon.metrics import psnr, ssim
    from mrdeeprecon.raw import read_raw
    from mrdeeprecon.raw import baselines
    from mrdeeprecon.raw.consistency import consistency_report, noise_sd
    from mrdeeprecon.raw.operators import SenseOperator
    from mrdeeprecon.raw.recon import RECON_METHODS
    from mrdeeprecon.raw.unrolled import load_unrolled, reconstruct_unrolled
    import torch

    def recon(raw, method, maps=None):
        if method == "unrolled":
            return reconstruct_unrolled(raw, maps=maps)
        return baselines.reconstruct_baseline(raw, method, maps=maps)

    figures = BENCHMARKS_DIR / "raw"
    figures.mkdir(exist_ok=True)
    full = read_raw(KSPACE / "espirit_full.cfl")
    full_maps, _ = baselines.espirit_maps(full.data, full.mask)
    reference = np.abs(SenseOperator(torch.from_numpy(full_maps), torch.from_numpy(full.mask)).adjoint(torch.from_numpy(full.data)).numpy())
    sd, _ = noise_sd(full, full.data, full.mask)
    relative_noise = sd / float(np.percentile(reference, 99))
    masks = _masks(full.data.shape[-2:])

    validation = _choose_settings(masks, relative_noise)
    _use_chosen_tables(baselines, validation)
    for method, found in validation.items():
        print(f"validation {method}: {found['seconds']:.1f} s", flush=True)
    if args.validation_only:
        return 0

    rows, images = [], {}
    for (kind, r), mask in masks.items():
        under = _undersampled(full, mask)
        for method in RECON_METHODS:
            start = time.perf_counter()
            result = recon(under, method)
            seconds = (time.perf_counter() - start) / under.data.shape[1]
            magnitude = np.abs(result.image)
            images.setdefault((kind, r), {})[method] = magnitude[0]
            rows.append({
                "mask": kind, "r": r, "effective_r": result.parameters["acceleration"], "method": method,
                "psnr_db": psnr(reference, magnitude), "ssim": ssim(reference, magnitude), "seconds_per_slice": seconds,
                "parameters": result.parameters,
            })
            print(f"{kind} R={r} {method}: {rows[-1]['psnr_db']:.2f} dB {rows[-1]['ssim']:.4f} {seconds:.2f} s", flush=True)
    for kind in ("uniform", "poisson"):
        _panel(figures / f"espirit_full_{kind}.png", f"espirit_full, {kind} masks (rows R = {ACCELERATIONS})",
               [(f"R{r}", images[(kind, r)]) for r in ACCELERATIONS], reference[0])

    real, real_images = [], []
    for name in REAL_SETS:
        raw = read_raw(KSPACE / name)
        results = {"zerofill": baselines.reconstruct_baseline(raw, "zerofill")}
        for method in ("sense", "l1wavelet", "unrolled"):
            start = time.perf_counter()
            results[method] = recon(raw, method, maps=results["zerofill"].maps)
            results[method].parameters["seconds_per_slice"] = (time.perf_counter() - start) / results[method].kspace.shape[1]
        noise = noise_sd(raw, results["sense"].kspace, results["sense"].mask)
        for method, result in results.items():
            report = consistency_report(method, result.image, result.kspace, result.mask, result.maps, noise,
                                        None if method == "sense" else results["sense"].image)
            real.append({"set": name, **report.to_dict(), "parameters": result.parameters})
        real_images.append((name.split(".")[0], {m: np.abs(r.image[0]) for m, r in results.items()}))
        print(name, "done", flush=True)
    _panel(figures / "real_undersampled.png", "real undersampled k-space (no ground truth)", real_images, None)

    _, card = load_unrolled()
    payload = {
        "threads": args.threads, "reference": "espirit_full, ESPIRiT-combined", "relative_noise_sd": relative_noise,
        "noise_ceiling_db": _noise_ceiling_db(full, full_maps, reference),
        "unrolled_model": {"sha256": card["sha256"], "steps": card["training"]["steps"], "wall_hours": card["training"]["wall_hours"],
                           "parameters": card["parameter_count"], "start": card["architecture"].get("start", "adjoint"),
                           "data_consistency": card["architecture"].get("data_consistency", "gradient"),
                           "target": card["training"].get("pair_config", {}).get("target", "clean"),
                           "lineage_steps": _lineage_steps(card.get("lineage", []))},
        "validation": validation,
        "espirit_full": rows, "real": real,
    }
    args.json.write_text(json.dumps(payload, indent=1, default=float))
    args.out.write_text(_markdown(payload, args.threads))
    _update_model_card(payload)
    print(f"wrote {args.out} and {args.json}")
    return 0


def _noise_ceiling_db(full, maps, reference) -> float:
    """PSNR against ``reference`` of the fully sampled ``full`` with a second draw of its noise added
    (complex Gaussian with the coil covariance of its outer k-space, seed 0), combined the same way."""
    import numpy as np
    import torch

    from mrdeeprecon.metrics import psnr
    from mrdeeprecon.raw.operators import SenseOperator
    from mrdeeprecon.training.raw_pairs import noise_covariance

    data = full.data
    cholesky = np.linalg.cholesky(noise_covariance(data[:, 0]))
    rng = np.random.default_rng(0)
    white = (rng.normal(size=(data.shape[0], data[0].size)) + 1j * rng.normal(size=(data.shape[0], data[0].size))) / np.sqrt(2)
    noisy = (data + (cholesky @ white).reshape(data.shape)).astype(np.complex64)
    combined = SenseOperator(torch.from_numpy(maps), torch.from_numpy(full.mask)).adjoint(torch.from_numpy(noisy))
    return psnr(reference, np.abs(combined.numpy()))


def _lineage_steps(lineage: list[dict[str, Any]]) -> int:
    """Optimiser steps of a model card's ``lineage``: its sessions and those of the models it was
    fine-tuned from (``train-recon --init-weights``), recursively."""
    return sum(_lineage_steps(entry["lineage"]) if "fine_tuned_from" in entry else entry["steps"][1] - entry["steps"][0]
               for entry in lineage)


def _unrolled_margins(rows, baseline: str = "l1wavelet") -> dict[str, float]:
    """``{"<mask> R<r>": unrolled PSNR − baseline PSNR}`` in dB."""
    psnr = {(r["mask"], r["r"], r["method"]): r["psnr_db"] for r in rows}
    return {f"{kind} R{r}": psnr[(kind, r, "unrolled")] - psnr[(kind, r, baseline)]
            for kind, r, method in psnr if method == "unrolled"}


def _update_model_card(payload) -> None:
    """The unrolled rows and their margins over L1-wavelet into the bundled model card (weights untouched)."""
    from mrdeeprecon.model.weights import bundled_file, card_path
    from mrdeeprecon.raw.unrolled import BUNDLED_NAME

    path = card_path(bundled_file(BUNDLED_NAME, "unrolled SENSE model", "train one with `mrdeeprecon train-recon`"))
    card = json.loads(path.read_text())
    card["scores"] = {
        "script": "benchmarks/raw.py", "reference": payload["reference"], "sha256": card["sha256"],
        "espirit_full": [{k: r[k] for k in ("mask", "r", "effective_r", "psnr_db", "ssim", "seconds_per_slice")}
                         for r in payload["espirit_full"] if r["method"] == "unrolled"],
        "margin_over_l1wavelet_db": _unrolled_margins(payload["espirit_full"]),
        "margin_over_sense_db": _unrolled_margins(payload["espirit_full"], "sense"),
        "goal": f"unrolled >= L1-wavelet + {UNROLLED_GOAL_DB} dB at R 4 and 6",
    }
    path.write_text(json.dumps(card, indent=2) + "\n")


def _markdown(payload, threads) -> str:
    model = payload["unrolled_model"]
    margins = _unrolled_margins(payload["espirit_full"])
    lines = [
        "# Raw k-space reconstructions (issue 12)",
        "",
        f"`python benchmarks/raw.py --threads {threads}` (CPU, {threads} threads). Reference: `espirit_full` "
        "(230 × 180, 8 coils, fully sampled) coil-combined with its own ESPIRiT maps. Retrospective masks: uniform "
        f"(every R-th ky line) + {ACS_LINES} centre lines (effective R in brackets), and Poisson disc "
        f"(`sigpy.mri.poisson`, {ACS_LINES} × {ACS_LINES} calibration). Every reconstruction estimates its own ESPIRiT maps "
        "from its calibration region. PSNR / SSIM of the magnitude, data range = the reference's maximum "
        "(`mrdeeprecon.metrics`). Time: seconds per slice, ESPIRiT maps included. The reference is itself "
        f"noisy (noise SD {payload['relative_noise_sd']:.2%} of its 99th percentile): the same acquisition with another draw "
        f"of its noise (the coil covariance of its outer k-space) scores {payload['noise_ceiling_db']:.1f} dB against it, about "
        "what a noise-free image would; a reconstruction that keeps the measured noise scores above that where it samples "
        "enough.",
        "",
        "| mask | R (effective) | method | PSNR dB | SSIM | s / slice |",
        "|---|---|---|---|---|---|",
    ]
    for row in payload["espirit_full"]:
        lines.append(f"| {row['mask']} | {row['r']} ({row['effective_r']:.2f}) | {METHOD_NAMES[row['method']]} | "
                     f"{row['psnr_db']:.2f} | {row['ssim']:.4f} | {row['seconds_per_slice']:.2f} |")
    lines += [
        "",
        "Images and |error| × 5: [uniform](raw/espirit_full_uniform.png), [Poisson disc](raw/espirit_full_poisson.png).",
        "",
        "## Unrolled network",
        "",
        f"Bundled `unrolled_sense` (SHA-256 {model['sha256'][:12]}…, {model['parameters']} parameters; cascades start from "
        f"{'CG-SENSE' if model['start'] == 'sense' else 'Aᴴy'}, {'conjugate-gradient' if model['data_consistency'] == 'cg' else 'gradient-step'} data consistency in each cascade, trained towards the {model['target'].replace('_', ' ')} image; "
        f"{model['steps']} steps in its last run, {model['lineage_steps']} with the runs it was fine-tuned from, "
        f"{model['wall_hours']:.2f} CPU hours in its last run; `mrdeeprecon train-recon`, its model card and "
        "`benchmarks/training/`). Margin over L1-wavelet "
        f"(goal ≥ +{UNROLLED_GOAL_DB} dB at R 4 and 6): "
        + ", ".join(f"{key} {value:+.2f} dB" for key, value in margins.items()) + ". Over CG-SENSE: "
        + ", ".join(f"{key} {value:+.2f} dB" for key, value in _unrolled_margins(payload["espirit_full"], "sense").items()) + ".",
        "",
        "## Baseline settings",
        "",
        "The settings of L1-wavelet and CG-SENSE, chosen per R by PSNR on a validation slice that is not the "
        "test data: the middle slice of `adi_t2tse_3t_block1` resized to 230 × 180, 8 simulated coils "
        "(`kspace/coils.py`), complex noise at espirit_full's noise SD relative to its 99th percentile "
        f"({payload['relative_noise_sd']:.2e}), the same masks; the best mean PSNR over the two mask kinds at each R.",
        "",
    ]
    for method, search in SEARCHES.items():
        found = payload["validation"][method]
        matches = "matches" if found["table"] == found["shipped_table"] else "DIFFERS from"
        lines += [f"### {search.title}", "", search.explanation, "",
                  f"| R | effective R (mean) | {search.column} | validation PSNR dB |", "|---|---|---|---|"]
        lines += [f"| {r} | {v['effective_r']:.2f} | {_setting_text(v['setting'])} | {v['psnr_db']:.2f} |" for r, v in found["chosen"].items()]
        lines += ["", f"Shipped table (`baselines.{search.table}`) {matches} this choice.", ""]
    lines += [
        "## Real undersampled data (no ground truth)",
        "",
        "Residual at the sampled positions relative to the noise SD (from the outer k-space), and the image energy "
        "each method adds beyond CG-SENSE (and the part of it the samples do not see). "
        "[Images](raw/real_undersampled.png).",
        "",
        "| set | sampled | method | residual / noise SD | added energy vs SENSE | unseen by the data |",
        "|---|---|---|---|---|---|",
    ]
    for row in payload["real"]:
        ratio = "-" if row["residual_to_noise"] is None else f"{row['residual_to_noise']:.3g}"
        added = "-" if row["added_energy_fraction"] is None else f"{100 * row['added_energy_fraction']:.2f} %"
        unseen = "-" if row["unmeasured_added_fraction"] is None else f"{100 * row['unmeasured_added_fraction']:.2f} %"
        lines.append(f"| {row['set']} | {100 * row['sampled_fraction']:.1f} % | {METHOD_NAMES[row['method']]} | {ratio} | {added} | {unseen} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
