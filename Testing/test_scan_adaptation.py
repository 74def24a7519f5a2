"""The scan-specific fine-tune (mrdeeprecon.scan_adaptation): its recorrupted pairs, its Rician
floor, its held-out stopping rule, and the enhancement, command line and batch that run it.

What it gains on held-out references is measured by benchmarks/training/scan_specific_r2r/ and
benchmarks/quality.py, not here.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from mrdeeprecon import adaptation_cache, scan_adaptation
from mrdeeprecon.adaptation_cache import AdaptationCache
from mrdeeprecon.adaptation_record import Adaptation, describe, reused_record
from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import Cancelled, MRDeepReconError
from mrdeeprecon.inference import enhance
from mrdeeprecon.model.weights import bundled_model_path, load_model
from mrdeeprecon.progress import CancelToken
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.volume import Volume

SAMPLING = ScanContext(acquisition="2D").on_output_grid((1.0, 1.0, 1.0))


def _phantom(slices: int = 12, size: int = 64, sigma: float = 0.06, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth disc with texture and its noisy copy (white noise of SD ``sigma``), ``(z, y, x)``."""
    generator = torch.Generator().manual_seed(seed)
    z, y, x = torch.meshgrid(torch.linspace(-1, 1, slices), torch.linspace(-1, 1, size), torch.linspace(-1, 1, size),
                             indexing="ij")
    clean = ((y**2 + x**2) < 0.75).float() * (0.6 + 0.25 * torch.sin(4 * x + z) * torch.cos(3 * y))
    return clean, clean + sigma * torch.randn(clean.shape, generator=generator)


@pytest.fixture(scope="module")
def model():
    return load_model(bundled_model_path("2d"))[0]


@pytest.fixture
def quick(monkeypatch):
    """Evaluations every 5 steps, patches of 48 pixels: the rule's plumbing in seconds."""
    monkeypatch.setattr(scan_adaptation, "EVALUATION_INTERVAL", 5)
    monkeypatch.setattr(scan_adaptation, "PATCH", 48)


def _weights(network) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in network.parameters()])


@pytest.mark.parametrize("count", [8, 12, 40, 176])
def test_held_out_slices_are_four_thin_slabs_spread_over_the_volume(count):
    held = scan_adaptation.held_out_slices(count)
    thickness = max(1, count // scan_adaptation.HELD_OUT_SLAB_DIVISOR)
    assert len(held) == scan_adaptation.HELD_OUT_SLABS * thickness and len(held) <= count // 2
    slabs = [held[i:i + thickness] for i in range(0, len(held), thickness)]
    for k, slab in enumerate(slabs):
        assert slab == list(range(slab[0], slab[0] + thickness))
        assert abs(np.mean(slab) - (2 * k + 1) * count / 8) <= 1


def test_the_recorruption_has_the_input_s_own_noise_so_input_and_target_noises_are_independent(model):
    """z has the local noise SD of the input, where it varies too; then y + αz and y − z/α carry
    uncorrelated noise (the condition for the target to be unbiased). A z at the volume's median
    SD would leave them correlated where the noise is above it."""
    clean, _ = _phantom(slices=8, size=128)
    generator = torch.Generator().manual_seed(1)
    level = torch.where(torch.arange(128) < 64, 0.03, 0.09)[None, None, :].expand_as(clean)
    noise = level * torch.randn(clean.shape, generator=generator)
    noisy = clean + 1.0 + noise  # a flat background too: the whole image has Gaussian noise
    along = scan_adaptation._views(noisy, SAMPLING, 1, [])[0]
    inputs, targets, middles = scan_adaptation._recorrupted(model, along, list(range(8)), generator)
    alpha = scan_adaptation.ALPHA
    into_input, into_target = inputs[:, 0] - clean - 1.0, targets - clean - 1.0
    inner = (slice(None), slice(8, -8))
    for columns, sd in ((slice(8, 56), 0.03), (slice(72, 120), 0.09)):
        fresh = (inputs[:, 0] - middles)[(*inner, columns)] / alpha
        assert float(fresh.std()) == pytest.approx(sd, rel=0.1)
        a, b = into_input[(*inner, columns)].flatten(), into_target[(*inner, columns)].flatten()
        assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.05


def test_the_recorruption_is_correlated_across_slices_as_a_band_limited_slice_axis_makes_the_input():
    """With the slice axis acquired to k_max 0.5 (a scanner's slice interpolation, or the views
    across the slices of an in-plane interpolated scan), neighbouring slices of the noise are
    correlated; the recorruption of a multi-slice stack must be too, and white where it is not."""
    from mrdeeprecon.volume_calibration import band_noise

    generator = torch.Generator().manual_seed(3)

    def neighbour_correlation(noise: torch.Tensor) -> float:
        return float(torch.corrcoef(torch.stack([noise[..., 3, :, :].flatten(), noise[..., 4, :, :].flatten()]))[0, 1])

    reference = neighbour_correlation(band_noise((64, 64, 64), (1.0, 1.0, 0.5), generator, torch.device("cpu")))
    stacks = scan_adaptation._unit_noise(16, 7, (64, 64), (1.0, 1.0, 0.5), generator, torch.device("cpu"))
    assert reference > 0.5 and neighbour_correlation(stacks) == pytest.approx(reference, abs=0.05)
    assert float(stacks.std()) == pytest.approx(1.0, rel=0.05)
    white = scan_adaptation._unit_noise(16, 7, (64, 64), (1.0, 1.0, 1.0), generator, torch.device("cpu"))
    assert abs(neighbour_correlation(white)) < 0.03


def test_the_rician_floor_is_judged_on_the_smoothed_input_not_on_its_noise_peaks(model):
    """Where the signal is 1 SD, the noisy input alone is above 3 SD in 2 % of the voxels (its
    noise peaks, which a recorrupted target would teach the network to keep); the smoothed input
    is in none of them. Where the signal is 10 SD every voxel is trained on its recorrupted target."""
    generator = torch.Generator().manual_seed(2)
    signal = torch.where(torch.arange(128) < 64, 0.05, 0.5)[None, None, :].expand(8, 128, 128)
    noisy = signal + 0.05 * torch.randn(signal.shape, generator=generator)
    along = scan_adaptation._views(noisy, SAMPLING, 1, [])[0]
    low, high = (slice(None), slice(8, -8), slice(8, 56)), (slice(None), slice(8, -8), slice(72, 120))
    assert float((noisy[low] >= 3 * along.noise_sd[low]).float().mean()) > 0.01
    assert float(along.gaussian[low].float().mean()) < 0.001
    assert float(along.gaussian[high].float().mean()) > 0.99


def test_held_out_slices_are_never_a_target_in_any_view():
    data = _phantom(slices=16)[1]
    held = scan_adaptation.held_out_slices(16)
    sampling = ScanContext(acquisition="3D").on_output_grid((1.0, 1.0, 1.0))
    views = scan_adaptation._views(data, sampling, 3, held)
    assert views[0].middles.tolist() == [z for z in range(16) if z not in held]
    for axis, seen in enumerate(views):
        back = seen.trainable.permute(*scan_adaptation.VIEW_ORDERS[axis])
        assert not back[held].any() and back[[z for z in range(16) if z not in held]].all()


def test_the_kept_weights_are_those_of_the_lowest_held_out_loss_and_the_model_is_left_alone(model, quick):
    _, noisy = _phantom()
    before = _weights(model).clone()
    seen = {}
    tuned, adaptation = scan_adaptation.adapt_to_scan(
        model, noisy, SAMPLING, 1, 30, evaluated=lambda step, loss, network: seen.update({step: (loss, _weights(network).clone())}))
    assert torch.equal(_weights(model), before), "the caller's model is not trained"
    assert [step for step, _ in adaptation.held_out_loss] == [0, 5, 10, 15, 20, 25, 30] == sorted(seen)
    assert all(seen[step][0] == loss for step, loss in adaptation.held_out_loss)
    best = min(adaptation.held_out_loss, key=lambda item: item[1])[0]
    assert adaptation.kept_step == best > 0, "on this phantom the fine-tune lowers the held-out loss"
    assert torch.equal(_weights(tuned), seen[best][1])
    assert adaptation.steps_run == 30 and adaptation.stopped == "the step limit (30)"
    assert not tuned.training


def test_a_fine_tune_that_raises_the_held_out_loss_is_stopped_and_not_kept(model, quick, monkeypatch):
    monkeypatch.setattr(scan_adaptation, "LEARNING_RATE", 0.05)  # diverges
    _, noisy = _phantom()
    tuned, adaptation = scan_adaptation.adapt_to_scan(model, noisy, SAMPLING, 1, 100)
    assert adaptation.kept_step == 0 and torch.equal(_weights(tuned), _weights(model))
    patience = scan_adaptation.PATIENCE
    assert adaptation.steps_run == 5 * patience and len(adaptation.held_out_loss) == patience + 1
    assert adaptation.stopped == f"{5 * patience} steps without a lower held-out loss"
    assert "did not lower the held-out loss" in describe(adaptation.record())


def test_held_out_slices_without_signal_leave_the_model_unadapted_and_say_why(model, quick):
    clean, noisy = _phantom()
    held = scan_adaptation.held_out_slices(12)
    noisy[held] = 0.01 * torch.randn(len(held), 64, 64)
    with pytest.warns(RuntimeWarning, match="not adapted to the scan: the held-out slices hold fewer than"):
        tuned, adaptation = scan_adaptation.adapt_to_scan(model, noisy, SAMPLING, 1, 30)
    assert adaptation.steps_run == 0 and torch.equal(_weights(tuned), _weights(model))
    assert describe(adaptation.record()).startswith("Not adapted to this scan: the held-out slices")


def test_too_few_slices_are_refused_and_cancel_stops_it(model, quick):
    with pytest.raises(MRDeepReconError, match="at least 8 slices"):
        scan_adaptation.adapt_to_scan(model, _phantom(slices=6)[1], SAMPLING, 1, 30)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        scan_adaptation.adapt_to_scan(model, _phantom()[1], SAMPLING, 1, 30, cancel=token)


def test_describe_says_which_weights_enhanced_the_volume():
    record = Adaptation(1750, 750, ((0, 1.0), (750, 0.976), (1750, 0.977)), "1000 steps without a lower held-out loss",
                        95.4).record()
    assert describe(record) == ("Adapted to this scan: the weights of step 750 of 1750 (95 s; held-out loss -2.4 %; "
                                "stopped: 1000 steps without a lower held-out loss).")


def test_describe_says_when_the_fine_tune_of_an_earlier_run_was_reused():
    adaptation = Adaptation(1750, 750, ((0, 1.0), (750, 0.976), (1750, 0.977)), "the step limit (1750)", 95.4)
    record = reused_record({"source": "a.nii.gz", "planes": 1, "base_sha256": "0" * 64, **adaptation.record()})
    assert record == {**adaptation.record(), "reused": True}
    assert describe(record).startswith("Adapted to this scan (the fine-tune of an earlier run, reused): the weights of "
                                       "step 750 of 1750")
    for kept_nothing in (Adaptation(1000, 0, ((0, 1.0), (1000, 1.01)), "the step limit (1000)", 50.0),
                         Adaptation(0, 0, (), "too little signal", 1.0)):
        said = describe(reused_record(kept_nothing.record()))
        assert "to this scan (the fine-tune of an earlier run, reused): " in said


def test_the_cache_key_changes_with_everything_the_fine_tune_depends_on():
    data = _phantom()[1]
    key = AdaptationCache.key(data, SAMPLING, 1, 100, "a" * 64)
    assert key == AdaptationCache.key(data.clone(), SAMPLING, 1, 100, "a" * 64)
    changed = data.clone()
    changed[5, 30, 30] += 1e-3
    others = [AdaptationCache.key(changed, SAMPLING, 1, 100, "a" * 64),
              AdaptationCache.key(data, ScanContext(acquisition="3D").on_output_grid((1.0, 1.0, 1.0)), 1, 100, "a" * 64),
              AdaptationCache.key(data, SAMPLING, 3, 100, "a" * 64),
              AdaptationCache.key(data, SAMPLING, 1, 101, "a" * 64),
              AdaptationCache.key(data, SAMPLING, 1, 100, "b" * 64)]
    assert len({key, *others}) == 6


def test_the_cache_key_changes_with_the_engine_s_code(tmp_path, monkeypatch):
    """A fine-tune made by another version of the engine (another setting, another method) is
    never taken for this one's: any change to a source file of the package changes the key."""
    import shutil

    data = _phantom()[1]
    keys = [AdaptationCache.key(data, SAMPLING, 1, 100, "a" * 64)]
    copy = tmp_path / "mrdeeprecon"
    shutil.copytree(adaptation_cache.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(adaptation_cache, "PACKAGE_DIR", copy)
    for change in ("", "LEARNING_RATE = 6e-4\n"):  # the same code elsewhere, then one line more
        with open(copy / "scan_adaptation.py", "a") as source:
            source.write(change)
        adaptation_cache._code_digest.cache_clear()
        keys.append(AdaptationCache.key(data, SAMPLING, 1, 100, "a" * 64))
    adaptation_cache._code_digest.cache_clear()  # the next key reads the package itself again
    assert keys[0] == keys[1] != keys[2]


def test_the_cache_keeps_the_entries_used_last(tmp_path, model, monkeypatch):
    monkeypatch.setattr(adaptation_cache, "ENTRIES", 2)
    cache = AdaptationCache(tmp_path / "cache")
    cache.store("first", model, {"adapted_to": {"kept_step": 1}})
    cache.store("second", model, {"adapted_to": {"kept_step": 2}})
    for age, name in ((30, "first"), (20, "second")):  # mtimes a second apart at least, whatever the file system
        os.utime(tmp_path / "cache" / f"{name}.safetensors", (time.time() - age, time.time() - age))
    assert cache.load("first", torch.device("cpu"))[1] == {"kept_step": 1}  # used now: "second" is the oldest
    cache.store("third", model, {"adapted_to": {"kept_step": 3}})
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "first.json", "first.safetensors", "third.json", "third.safetensors"]
    assert cache.load("second", torch.device("cpu")) is None
    old, new = tmp_path / "cache" / ".fourth.safetensors.x1.tmp", tmp_path / "cache" / ".fifth.safetensors.x2.tmp"
    for partial in (old, new):  # a write killed midway; another process's write under way
        partial.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * adaptation_cache.STALE_PARTIAL_S,) * 2)
    cache.store("fourth", model, {"adapted_to": {"kept_step": 4}})
    assert not old.exists() and new.exists()
    (tmp_path / "file").write_text("")
    for wrong in (tmp_path / "file", tmp_path / "file" / "below"):
        with pytest.raises(MRDeepReconError, match="must be a folder") as raised:
            AdaptationCache(wrong)
        assert raised.value.path == str(wrong)


def test_a_cache_that_cannot_be_written_keeps_the_result_with_a_warning(tmp_path, model):
    cache = AdaptationCache(tmp_path / "cache")
    (tmp_path / "cache").rmdir()
    (tmp_path / "cache").write_text("")  # the folder was replaced by a file meanwhile
    with pytest.warns(RuntimeWarning, match="not kept in the adaptation cache"):
        cache.store("key", model, {"adapted_to": {}})


def test_enhance_reuses_a_cached_fine_tune_at_another_noise_reduction(tmp_path, quick):
    """The second enhancement of a scan at another NR takes the fine-tune from the cache: no
    training step, the record says so, and the output is the cached model's at that NR."""
    volume = Volume(_phantom()[1].numpy(), spacing=(1.0, 1.0, 2.0))
    cache = tmp_path / "cache"
    first = enhance(volume, EnhanceSettings(device="cpu", adaptation_steps=15, noise_reduction=2.0),
                    adaptation_cache=cache)
    made = first.metadata["enhancement"]["scan_adaptation"]
    assert "reused" not in made and made["kept_step"] > 0
    (entry,) = cache.glob("*.safetensors")
    assert load_model(entry)[1]["adapted_to"]["kept_step"] == made["kept_step"]
    reports = []
    again = enhance(volume, EnhanceSettings(device="cpu", adaptation_steps=15, noise_reduction=3.0),
                    progress=lambda fraction, message: reports.append(message), adaptation_cache=cache)
    assert again.metadata["enhancement"]["scan_adaptation"] == {**made, "reused": True}
    assert not any(message.startswith("adapting to this scan: step") for message in reports)
    with_entry = enhance(volume, EnhanceSettings(device="cpu", noise_reduction=3.0, model_path=entry))
    np.testing.assert_array_equal(again.data, with_entry.data)
    same = enhance(volume, EnhanceSettings(device="cpu", adaptation_steps=15, noise_reduction=2.0), adaptation_cache=cache)
    np.testing.assert_array_equal(same.data, first.data)  # the kept weights are the ones that enhanced it first
    enhance(volume, EnhanceSettings(device="cpu", adaptation_steps=16), adaptation_cache=cache)
    assert len(list(cache.glob("*.safetensors"))) == 2, "another step limit is another fine-tune"


def test_a_corrupt_cache_entry_is_replaced_by_a_fresh_fine_tune(tmp_path, quick):
    volume = Volume(_phantom()[1].numpy(), spacing=(1.0, 1.0, 2.0))
    settings = EnhanceSettings(device="cpu", adaptation_steps=10)
    enhance(volume, settings, adaptation_cache=tmp_path)
    (entry,) = tmp_path.glob("*.safetensors")
    entry.write_bytes(entry.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.warns(RuntimeWarning, match="does not load.*SHA-256"):
        result = enhance(volume, settings, adaptation_cache=tmp_path)
    assert "reused" not in result.metadata["enhancement"]["scan_adaptation"]
    load_model(entry)  # stored again, whole


def test_a_cache_entry_that_cannot_be_read_is_a_miss_left_in_place(tmp_path, model):
    cache = AdaptationCache(tmp_path)
    cache.store("key", model, {"no": "adapted_to"})
    with pytest.warns(RuntimeWarning, match="could not be read.*runs again"):
        assert cache.load("key", torch.device("cpu")) is None
    assert (tmp_path / "key.safetensors").is_file()


def test_a_cache_is_neither_made_nor_checked_when_the_settings_do_not_adapt(tmp_path):
    volume = Volume(_phantom()[1].numpy(), spacing=(1.0, 1.0, 2.0))
    (tmp_path / "file").write_text("")
    enhance(volume, EnhanceSettings(device="cpu"), adaptation_cache=tmp_path / "file" / "below")
    enhance(volume, EnhanceSettings(device="cpu"), adaptation_cache=tmp_path / "unused")
    assert not (tmp_path / "unused").exists()


def test_enhance_adapts_when_asked_and_records_it(quick):
    clean, noisy = _phantom()
    volume = Volume(noisy.numpy(), spacing=(1.0, 1.0, 2.0))
    plain = enhance(volume, EnhanceSettings(device="cpu"))
    assert "scan_adaptation" not in plain.metadata["enhancement"]
    reports = []
    adapted = enhance(volume, EnhanceSettings(device="cpu", adaptation_steps=20),
                      progress=lambda fraction, message: reports.append((fraction, message)))
    record = adapted.metadata["enhancement"]["scan_adaptation"]
    assert record["steps_run"] == 20 and record["kept_step"] > 0
    assert not np.array_equal(adapted.data, plain.data) and adapted.data.dtype == np.float32
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    adapting = [f for f, message in reports if message.startswith("adapting to this scan")]
    assert adapting and max(adapting) <= 0.8 < min(f for f, m in reports if m.startswith("batch"))


def test_a_model_adapted_once_enhances_as_the_adapting_enhancement_does(tmp_path, quick):
    """adapt_model writes the fine-tuned model with its card; enhancing with it gives the output
    of enhance with adaptation_steps (the fine-tune is seeded), at any noise reduction."""
    import mrdeeprecon

    volume = Volume(_phantom()[1].numpy(), spacing=(1.0, 1.0, 2.0))
    settings = EnhanceSettings(device="cpu", adaptation_steps=15, noise_reduction=3.0)
    adaptation = mrdeeprecon.adapt_model(volume, settings, tmp_path / "adapted.safetensors")
    card = load_model(tmp_path / "adapted.safetensors")[1]
    assert card["adapted_to"]["kept_step"] == adaptation.kept_step > 0 and card["adapted_to"]["planes"] == 1
    assert card["adapted_to"]["base_sha256"] == load_model(bundled_model_path("2d"))[1]["sha256"] != card["sha256"]
    with_it = enhance(volume, EnhanceSettings(device="cpu", noise_reduction=3.0, model_path=tmp_path / "adapted.safetensors"))
    adapting = enhance(volume, settings)
    np.testing.assert_allclose(with_it.data, adapting.data, rtol=0, atol=1e-4 * float(np.abs(adapting.data).max()))
    with pytest.raises(MRDeepReconError, match="at least 1"):
        mrdeeprecon.adapt_model(volume, EnhanceSettings(device="cpu"), tmp_path / "none.safetensors")


@pytest.mark.parametrize("failing", ["network", "fine-tune"])
def test_the_retry_on_the_cpu_after_the_device_ran_out_of_memory_keeps_a_finished_fine_tune(quick, monkeypatch, failing):
    """A device that runs out of memory after the fine-tune (in the network): the CPU's retry uses
    the fine-tune made there instead of making it again, gives what the adapting enhancement gives,
    and the output says so. Out of memory in the fine-tune itself, the retry makes it again. The
    device is simulated (this machine has no GPU): the first pass runs on ``cpu:0`` and fails."""
    from mrdeeprecon import inference
    from mrdeeprecon.device_memory import DeviceOutOfMemory

    volume = Volume(_phantom()[1].numpy(), spacing=(1.0, 1.0, 2.0))
    settings = EnhanceSettings(device="cpu", adaptation_steps=15, noise_reduction=2.0)
    direct = enhance(volume, settings)
    fine_tunes, failures = [], [DeviceOutOfMemory("one tile does not fit")]
    adapt, estimate = inference.adapt_to_scan, inference._network_estimate

    def counted(*args, **kwargs):
        fine_tunes.append(1)
        if failing == "fine-tune" and failures:
            raise failures.pop()
        return adapt(*args, **kwargs)

    def crowded(*args, **kwargs):
        if failing == "network" and failures:
            raise failures.pop()
        return estimate(*args, **kwargs)

    def from_a_device(device, run):  # _on_device_or_cpu, as from a device that is not the CPU
        with pytest.raises(DeviceOutOfMemory):
            run(torch.device("cpu", 0))
        return run(device), device, "ran out of memory; the enhancement ran on the CPU instead"

    monkeypatch.setattr(inference, "adapt_to_scan", counted)
    monkeypatch.setattr(inference, "_network_estimate", crowded)
    monkeypatch.setattr(inference, "_on_device_or_cpu", from_a_device)
    reports = []
    retried = enhance(volume, settings, progress=lambda fraction, message: reports.append(message))
    kept = failing == "network"
    assert fine_tunes == ([1] if kept else [1, 1]) and not failures
    assert ("adapted to this scan before the device ran out of memory" in reports) == kept
    fallback = retried.metadata["enhancement"]["device_fallback"]
    assert fallback.endswith("the scan fine-tune made on cpu:0 was kept") == kept
    assert retried.metadata["enhancement"]["scan_adaptation"] == direct.metadata["enhancement"]["scan_adaptation"] | {
        "seconds": retried.metadata["enhancement"]["scan_adaptation"]["seconds"]}
    np.testing.assert_allclose(retried.data, direct.data, rtol=0, atol=1e-4 * float(np.abs(direct.data).max()))


def test_the_command_line_and_the_batch_report_say_what_the_fine_tune_kept(tmp_path, capsys, quick, tiny_models):
    from mrdeeprecon.batch import REPORT_NAME
    from mrdeeprecon.cli import main
    from mrdeeprecon.io import save_volume

    (tmp_path / "inputs").mkdir()
    path = tmp_path / "inputs" / "phantom.nii.gz"
    save_volume(Volume(_phantom()[1].numpy(), spacing=(1.0, 1.0, 2.0)), path)
    assert main(["enhance", str(path), str(tmp_path / "out.nii.gz"), "--adapt-steps", "10", "--device", "cpu"]) == 0
    assert "to this scan" in capsys.readouterr().out
    for noise_reduction in ("2", "3"):
        assert main(["enhance", str(path), str(tmp_path / f"nr{noise_reduction}.nii.gz"), "--adapt-steps", "10",
                     "--device", "cpu", "--noise-reduction", noise_reduction,
                     "--adaptation-cache", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.count("(the fine-tune of an earlier run, reused)") == 1
    assert main(["enhance", str(tmp_path / "missing.nii.gz"), str(tmp_path / "x.nii.gz"), "--adapt-steps", "10",
                 "--adaptation-cache", str(path)]) == 2, "refused before the (missing) input is read"
    assert "the adaptation cache must be a folder" in capsys.readouterr().err and not (tmp_path / "x.nii.gz").exists()
    assert main(["batch", str(path.parent), "--out", str(tmp_path / "batch"), "--adapt-steps", "10", "--device", "cpu",
                 "--model", str(tiny_models["2d"]), "--quiet"]) == 0
    report = (tmp_path / "batch" / f"{REPORT_NAME}.csv").read_text()
    assert "adapted_step" in report.splitlines()[0] and " of 10" in report.splitlines()[1]
    for out, reused in (("batch_nr2", False), ("batch_nr3", True)):  # the second takes the first's fine-tune
        assert main(["batch", str(path.parent), "--out", str(tmp_path / out), "--adapt-steps", "10", "--device", "cpu",
                     "--noise-reduction", out[-1], "--adaptation-cache", str(tmp_path / "batch_cache"), "--quiet"]) == 0
        row = (tmp_path / out / f"{REPORT_NAME}.csv").read_text().splitlines()[1]
        assert (" of 10, reused" in row) is reused and " of 10" in row
