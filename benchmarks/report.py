"""RESULTS.md from one or more results JSON files (``run.py`` writes both), goals marked met or not.

Merge a CPU and a GPU run into one file:

    python benchmarks/report.py benchmarks/results_cpu.json benchmarks/results_gpu.json \\
        --out benchmarks/RESULTS.md

GB = 10⁹ bytes, GFLOP/s = 10⁹ floating-point operations per second.
"""

from __future__ import annotations

from common import write_section

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

E2E_CPU_GOAL_S = 20.0
E2E_GPU_GOAL_S = 1.5
CPU_NETWORK_FRACTION_GOAL = 0.60
GPU_NETWORK_FRACTION_GOAL = 0.30
HOST_RAM_GOAL_GB = 3.0
GPU_MEMORY_GOAL_GB = 4.0
SLOPE_TOLERANCE = 0.15
BM4D_SPEEDUP_GOAL = 50.0
ALL_BUT_NETWORK_GOAL = 0.10
GOAL_CPU_CORES = 2


@dataclass(frozen=True)
class Goal:
    """One goal of the issue: what it asks, the measured value, and whether it is met.

    ``met`` is ``None`` when the run cannot decide (quick mode, another core count, not measured).
    """

    goal: str
    target: str
    measured: str
    met: bool | None
    note: str = ""


def _gb(n_bytes: float) -> float:
    return n_bytes / 1e9


def _status(goal: Goal) -> str:
    if goal.met is None:
        return "n/a" + (f" ({goal.note})" if goal.note else "")
    return ("met" if goal.met else "**not met**") + (f" ({goal.note})" if goal.note else "")


def _decided(quick: bool, met: bool, note: str = "") -> tuple[bool | None, str]:
    return (None, "quick mode: not the goal's sizes") if quick else (met, note)


def evaluate_goals(results: dict[str, Any]) -> list[Goal]:
    """The issue's goals that this run measured."""
    sections, quick = results["sections"], results["quick"]
    cuda = results["machine"]["device"] == "cuda"
    threads = results["machine"]["threads"]
    goals: list[Goal] = []

    pipeline = sections.get("pipeline")
    if pipeline:
        for case in (c for name, c in pipeline["cases"].items() if name.startswith("e2e_")):
            kind = case["model_kind"].upper()
            shape = "×".join(map(str, case["shape_zyx"][::-1]))
            if cuda:
                met, note = _decided(quick, case["total_s"] <= E2E_GPU_GOAL_S)
                goals.append(Goal(f"{shape} end to end, GPU bf16, {kind} model", f"≤ {E2E_GPU_GOAL_S:g} s", f"{case['total_s']:.2f} s", met, note))
            else:
                met, note = _decided(quick, case["total_s"] <= E2E_CPU_GOAL_S)
                if threads != GOAL_CPU_CORES and met is not None:
                    met, note = None, f"ran with --threads {threads}; the goal is for {GOAL_CPU_CORES} cores"
                goals.append(Goal(f"{shape} end to end, {GOAL_CPU_CORES} CPU cores, {kind} model", f"≤ {E2E_CPU_GOAL_S:g} s", f"{case['total_s']:.2f} s", met, note))
        memory = pipeline["cases"]["memory_3d"]
        shape = "×".join(map(str, memory["shape_zyx"][::-1]))
        ram = _gb(memory["peak_rss_bytes"])
        met, note = _decided(quick, ram <= HOST_RAM_GOAL_GB)
        goals.append(Goal(f"{shape} peak host RAM", f"≤ {HOST_RAM_GOAL_GB:g} GB", f"{ram:.2f} GB", met, note))
        if cuda:
            gpu = _gb(memory["cuda_max_allocated_bytes"])
            met, note = _decided(quick, gpu <= GPU_MEMORY_GOAL_GB)
            goals.append(Goal(f"{shape} peak GPU memory (max allocated)", f"≤ {GPU_MEMORY_GOAL_GB:g} GB", f"{gpu:.2f} GB", met, note))

    network = sections.get("network")
    if network:
        target = GPU_NETWORK_FRACTION_GOAL if cuda else CPU_NETWORK_FRACTION_GOAL
        peak_name = "bf16" if cuda else "CPU fp32"
        for kind, entry in network["kinds"].items():
            goal = f"network ({kind.upper()}) FLOP/s vs {peak_name} peak"
            fraction = entry["fraction_of_peak"]
            if fraction is None:
                goals.append(Goal(goal, f"≥ {target:.0%}", "peak not measured", None, "run with the peak section"))
                continue
            met, note = _decided(quick, fraction >= target)
            measured = f"{fraction:.1%} of peak ({entry['fraction_of_mm']:.1%} of `torch.mm`)"
            goals.append(Goal(goal, f"≥ {target:.0%}", measured, met, note))

    on_device = sections.get("pipeline-on-device")
    if on_device and not cuda:
        for kind, entry in on_device["kinds"].items():
            share = 1 - entry["current"]["network_share"]
            met, note = _decided(quick, share <= ALL_BUT_NETWORK_GOAL)
            if threads != GOAL_CPU_CORES and met is not None:
                met, note = None, f"ran with --threads {threads}; the goal is for {GOAL_CPU_CORES} cores"
            goals.append(Goal(f"all but the network, share of a warm enhance, {kind.upper()} model", f"≤ {ALL_BUT_NETWORK_GOAL:.0%}", f"{share:.1%}", met, note))
            if "baseline" in entry:
                ratio = entry["current"]["total_s"] / entry["baseline"]["total_s"]
                met, note = _decided(quick, ratio <= 1.0)
                goals.append(Goal(f"warm enhance vs the baseline engine, same run, {kind.upper()} model", "≤ 1.00×", f"{ratio:.2f}×", met, note))

    scaling = sections.get("scaling")
    if scaling:
        slope = scaling["slope"]
        met, note = _decided(quick, abs(slope - 1.0) <= SLOPE_TOLERANCE)
        goals.append(Goal("time vs slices: slope b of log t = a + b log n", f"1 ± {SLOPE_TOLERANCE:g}", f"{slope:.3f}", met, note))

    bm4d = sections.get("bm4d")
    if bm4d:
        if bm4d["available"]:
            met, note = _decided(quick, bm4d["speedup"] >= BM4D_SPEEDUP_GOAL)
            goals.append(Goal("speed vs BM4D on the same crop", f"≥ {BM4D_SPEEDUP_GOAL:g}×", f"{bm4d['speedup']:.1f}×", met, note))
        else:
            goals.append(Goal("speed vs BM4D on the same crop", f"≥ {BM4D_SPEEDUP_GOAL:g}×", "BM4D absent", None, bm4d["note"]))
    return goals


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    ram = f"{_gb(m['ram_bytes']):.1f} GB" if m["ram_bytes"] else "unknown"
    gpu = m["gpu"]["name"] + f" ({_gb(m['gpu']['memory_bytes']):.0f} GB, CUDA {m['gpu']['cuda']})" if m["gpu"] else "none used"
    load_start, load_end = m["load_average_start"], results.get("load_average_end")
    rows = [
        ["date (UTC)", m["date"]],
        ["command", f"`{results['command']}`"],
        ["CPU", f"{m['cpu_model']}, {m['cpu_cores']} usable cores"],
        ["threads used", str(m["threads"])],
        ["RAM", ram],
        ["GPU", gpu],
        ["device benchmarked", m["device"]],
        ["Python / numpy / torch", f"{m['python']} / {m['numpy']} / {m['torch']}"],
        ["1-min load average at start / end", f"{load_start[0]:.2f} / {load_end[0]:.2f}" if load_start and load_end else "unknown"],
        ["run duration", f"{results['duration_s']:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in results["section_durations_s"].items()) + ")"],
        ["mode", "quick (tiny sizes: plumbing check, not a measurement)" if results["quick"] else "full"],
        ["repeats per measurement (median reported)", str(results["repeats"])],
    ]
    for kind, model in m["models"].items():
        rows.append([f"model {kind} SHA-256", f"`{model['sha256']}` ({model['file']})"])
    lines = _table(["", ""], rows)
    if load_start and load_start[0] >= 1.0:
        lines += [f"> The machine was busy when the run started (1-min load {load_start[0]:.2f}): times are pessimistic.", ""]
    return lines


def _peak(section: dict[str, Any]) -> list[str]:
    lines = [
        "### Machine peak: dense kernels measured in this run",
        "",
        "`mm`: `torch.mm` of n × n matrices (2·n³ FLOPs). `conv3x3`: C → C channels, 3 × 3 kernel, "
        "C × 64 × 64 channels-last image (2·9·C²·64² FLOPs, oneDNN). Peak per precision = the best kernel.",
        "",
    ]
    for name, entry in section["kernels"].items():
        unit = "C" if entry["kernel"] == "conv3x3" else "n"
        lines += [f"{name}: best {entry['best_flops_per_s'] / 1e9:.1f} GFLOP/s at {unit} = {entry['best_size']}.", ""]
        lines += _table([unit, "GFLOP/s (median)"], [[n, f"{f / 1e9:.1f}"] for n, f in entry["by_size"].items()])
    peaks = ", ".join(f"{dtype} {flops / 1e9:.1f} GFLOP/s" for dtype, flops in section["peak"].items())
    lines += [f"Peak: {peaks}.", ""]
    if "tf32_matmul" in section:
        lines += [f"TF32 for float32 matmul: {'on' if section['tf32_matmul'] else 'off'}.", ""]
    return lines


def _network(section: dict[str, Any]) -> list[str]:
    size = section["size"]
    lines = [
        f"### Network alone ({size}×{size} slices, {section['precision']})",
        "",
        "FLOPs counted with `torch.utils.flop_counter.FlopCounterMode` (convolutions and linear layers, "
        "2 per multiply-add; element-wise work not counted).",
        "",
    ]
    for kind, entry in section["kinds"].items():
        best = entry["best"]
        fraction = entry["fraction_of_peak"]
        lines += [
            f"**{kind.upper()} model**: {best['flops_per_slice'] / 1e9:.2f} GFLOP per slice; best: batch {best['batch']}, "
            f"{best['memory_format']}, {best['slices_per_s']:.1f} slices/s, {best['flops_per_s'] / 1e9:.1f} GFLOP/s"
            + (f" = {fraction:.1%} of the machine peak, {entry['fraction_of_mm']:.1%} of `torch.mm`." if fraction is not None else "."),
            "",
        ]
        default = next(
            (c for c in entry["cases"] if c["batch"] == section.get("engine_batch_size") and c["memory_format"] == "channels_last"),
            None,
        )
        if default is not None and default != best:
            lines += [
                f"At the engine's default batch ({default['batch']}, channels_last): {default['slices_per_s']:.1f} slices/s, "
                f"{default['flops_per_s'] / 1e9:.1f} GFLOP/s.",
                "",
            ]
        rows = [
            [str(c["batch"]), c["memory_format"], f"{c['seconds_per_batch'] * 1e3:.1f}", f"{c['slices_per_s']:.1f}", f"{c['flops_per_s'] / 1e9:.1f}"]
            for c in entry["cases"]
        ]
        lines += _table(["batch", "memory format", "ms per batch (median)", "slices/s", "GFLOP/s"], rows)
    return lines


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _pipeline(section: dict[str, Any]) -> list[str]:
    lines = [
        "### Full pipeline: read → enhance → write (one child process per run)",
        "",
        f"Files: {section['io_format']}"
        + (" (SimpleITK absent: `.npy` voxels + JSON geometry instead of NIfTI)" if section["io_format"] == "npy" else " (`.nii.gz` through `mrdeeprecon.io`)")
        + f"; noise reduction {section['noise_reduction']:g}; source: {section['source']}. "
        "Total = read + enhance + write inside the process (enhance is cold: model load included); "
        "process = the child's whole wall time (interpreter start and imports included, warm repeat excluded); "
        "warm enhance = a second enhance in the same process.",
        "",
    ]
    cuda = any("cuda_max_allocated_bytes" in c for c in section["cases"].values())
    header = ["case", "x×y×z", "model", "tile / batch", "read s", "enhance s", "write s", "total s", "process s", "warm enhance s", "peak RSS GB"]
    if cuda:
        header.append("GPU max allocated GB")
    rows = []
    for case in section["cases"].values():
        row = [
            case["name"],
            "×".join(map(str, case["shape_zyx"][::-1])),
            case["model_kind"] + (f", {case['planes']} planes" if case.get("planes", 1) != 1 else ""),
            f"{case['tile_size']} / {case['batch_size']}",
            _seconds(case["read_s"]),
            _seconds(case["enhance_s"]),
            _seconds(case["write_s"]),
            _seconds(case["total_s"]),
            _seconds(case["process_wall_s"]),
            _seconds(case["warm_enhance_s"]),
            f"{_gb(case['peak_rss_bytes']):.2f}",
        ]
        if cuda:
            row.append(f"{_gb(case['cuda_max_allocated_bytes']):.2f}")
        rows.append(row)
    return lines + _table(header, rows)


#: Stages of pipeline-on-device in pipeline order (mrdeeprecon.stage_timing's names).
STAGES = ("copy", "standardise", "noise map", "gather", "network", "blend", "calibration", "noise reduction", "destandardise")


def _pipeline_on_device(section: dict[str, Any]) -> list[str]:
    shape = "×".join(map(str, section["shape_zyx"][::-1]))
    lines = [
        f"### Pipeline on the device: a warm enhance stage by stage ({shape} x×y×z, noise reduction {section['noise_reduction']:g})",
        "",
        "Median seconds per stage (`mrdeeprecon.stage_timing`, device synchronised at each stage's ends); "
        "other = model load, checks and the rest of `enhance()`; network share = every `CEUNet.forward` / the whole `enhance()`.",
        "",
    ]
    header = ["model", *STAGES, "other", "enhance s", "network share", "all but network"]
    rows = []
    for kind, entry in section["kinds"].items():
        current = entry["current"]
        stages = current["stages_s"]
        other = current["total_s"] - sum(stages.values())
        rows.append([kind, *(f"{stages.get(name, 0.0):.3f}" for name in STAGES), f"{other:.3f}", f"{current['total_s']:.2f}",
                     f"{current['network_share']:.1%}", f"{1 - current['network_share']:.1%}"])
    lines += _table(header, rows)
    if section.get("baseline_engine"):
        lines += [f"Before and after, in the same run (baseline engine: `{section['baseline_engine']}`):", ""]
        rows = []
        for kind, entry in section["kinds"].items():
            before, after = entry["baseline"], entry["current"]
            rows.append([
                kind,
                f"{before['total_s']:.2f}", f"{after['total_s']:.2f}", f"{after['total_s'] / before['total_s']:.2f}",
                f"{before['network_forward_s']:.2f}", f"{after['network_forward_s']:.2f}",
                f"{before['total_s'] - before['network_forward_s']:.2f}", f"{after['total_s'] - after['network_forward_s']:.2f}",
                f"{1 - before['network_share']:.1%}", f"{1 - after['network_share']:.1%}",
            ])
        lines += _table(["model", "enhance s before", "after", "after / before", "network s before", "after",
                         "all but network s before", "after", "share before", "after"], rows)
    return lines


def _scaling(section: dict[str, Any]) -> list[str]:
    size = "×".join(map(str, section["in_plane"]))
    lines = [
        f"### Scaling: enhance time vs slices ({size} in-plane, {section['model_kind']} model, in memory)",
        "",
        f"Fit log t = a + b·log n: **b = {section['slope']:.3f}** (1 = linear).",
        "",
    ]
    rows = [
        [str(r["slices"]), f"{r['seconds']:.2f}", f"{r['per_slice_s'] * 1e3:.1f}", f"{r['per_slice_ratio']:.2f}"]
        for r in section["rows"]
    ]
    return lines + _table(["slices", "seconds (median)", "ms per slice", "per-slice time / smallest's"], rows)


def _bm4d(section: dict[str, Any]) -> list[str]:
    lines = ["### BM4D comparison", ""]
    if not section["available"]:
        return lines + [section["note"], ""]
    crop = "×".join(map(str, section["crop_zyx"][::-1]))
    lines += [
        f"Same noisy crop ({crop} x×y×z, σ = {section['sigma']:.4g}); bm4d {section['bm4d_version']} "
        f"`bm4d.bm4d(crop, σ)` vs `enhance` (3D model). Speed-up = BM4D time / ours.",
        "",
    ]
    rows = [[f"{section['bm4d_s']:.2f}", f"{section['ours_s']:.3f}", f"{section['speedup']:.1f}×"]]
    return lines + _table(["BM4D s (median)", "MRDeepRecon s (median)", "speed-up"], rows)


_SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "peak": _peak,
    "network": _network,
    "pipeline": _pipeline,
    "pipeline-on-device": _pipeline_on_device,
    "scaling": _scaling,
    "bm4d": _bm4d,
}


def render_run(results: dict[str, Any]) -> list[str]:
    """Markdown lines of one run: machine, goals, then each measured section."""
    device = results["machine"]["device"].upper()
    lines = [f"## {device} run", ""] + _machine(results)
    goals = [asdict(g) | {"status": _status(g)} for g in evaluate_goals(results)]
    lines += ["### Goals (from the issue)", ""]
    lines += _table(["goal", "target", "measured", "status"], [[g["goal"], g["target"], g["measured"], g["status"]] for g in goals])
    for name, render in _SECTIONS.items():
        if name in results["sections"]:
            lines += render(results["sections"][name])
    return lines


def render(runs: list[dict[str, Any]]) -> str:
    """The whole RESULTS.md for one or more runs (e.g. a CPU run and a GPU run)."""
    lines = [
        "# MRDeepRecon speed benchmarks",
        "",
        "Generated by `benchmarks/run.py` (see `benchmarks/README.md` for what each number means). "
        "Times are medians over repeats after a warm-up; GB = 10⁹ bytes.",
        "",
    ]
    for results in runs:
        lines += render_run(results)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Render RESULTS.md from results JSON files.")
    parser.add_argument("results", type=Path, nargs="+", help="results JSON written by run.py")
    parser.add_argument("--out", type=Path, required=True, help="Markdown file to write")
    args = parser.parse_args()
    runs = [json.loads(path.read_text()) for path in args.results]
    write_section(args.out, "speed", render(runs))


if __name__ == "__main__":
    main()
